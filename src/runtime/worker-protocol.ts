import type { Feeds, TensorData } from './feeds.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';

export interface WorkerInit {
  modelPath: string;
  device: Device;
  providerOptions: ProviderOptions;
  intraOpThreads: number;
}

export type ToWorker = { type: 'run'; id: number; feeds: Feeds };

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; unavailable: ProviderAttempt[]; inputNames: string[] }
  | { type: 'init-failed'; message: string; unavailable: ProviderAttempt[] }
  | { type: 'result'; id: number; outputs: Record<string, TensorData>; computeMs: number }
  | { type: 'error'; id: number; message: string };
