import type { ErrorCode } from '../errors.js';
import type { ExportLocation } from '../model/index.js';
import type { Feeds, TensorData } from './feeds.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';

export interface WorkerInit {
  model: ExportLocation;
  device: Device;
  providerOptions: ProviderOptions;
  intraOpThreads: number;
}

export type ToWorker = { type: 'run'; id: number; feeds: Feeds };

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; unavailable: ProviderAttempt[]; inputNames: string[] }
  /** `unavailable` is set when no provider could start; otherwise the model itself failed (corrupt_file, model_not_found). */
  | { type: 'init-failed'; code: ErrorCode; message: string; unavailable?: ProviderAttempt[] }
  | { type: 'result'; id: number; outputs: Record<string, TensorData>; computeMs: number }
  | { type: 'error'; id: number; message: string };
