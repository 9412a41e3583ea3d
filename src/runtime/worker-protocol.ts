import type { ForwardBatch, ForwardResult } from './batch.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';

export interface WorkerInit {
  modelPath: string;
  device: Device;
  providerOptions: ProviderOptions;
  intraOpThreads: number;
}

export type ToWorker = { type: 'run'; id: number; batch: ForwardBatch };

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; unavailable: ProviderAttempt[] }
  | { type: 'init-failed'; message: string; unavailable: ProviderAttempt[] }
  | ({ type: 'result'; id: number } & ForwardResult)
  | { type: 'error'; id: number; message: string };
