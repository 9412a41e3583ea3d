import type { ErrorCode } from '../errors.js';
import type { ExportLocation } from '../model/index.js';
import type { Feeds, TensorData } from './feeds.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';

export interface WorkerInit {
  model: ExportLocation;
  device: Device;
  providerOptions: ProviderOptions;
  intraOpThreads: number;
  /** When the parent spawned this worker, in ms since the epoch: the two threads' clocks need not share an origin. */
  spawnedAtEpochMs: number;
}

export type ToWorker = { type: 'run'; id: number; feeds: Feeds };

/** Where a worker's start-up went, in ms of its own clock. */
export interface WorkerStartup {
  /** The thread starting and importing onnxruntime, until the worker's code runs. */
  threadMs: number;
  readMs: number;
  /** Hashing and scanning the weights, or only matching the stamp of an earlier check. */
  checkMs: number;
  check: 'full' | 'stamp';
  /** onnxruntime building the session (every provider tried). */
  sessionMs: number;
}

export type FromWorker =
  | { type: 'ready'; provider: ExecutionProvider; unavailable: ProviderAttempt[]; inputNames: string[]; startup: WorkerStartup }
  /** `unavailable` is set when no provider could start; otherwise the model itself failed (corrupt_file, model_not_found). */
  | { type: 'init-failed'; code: ErrorCode; message: string; unavailable?: ProviderAttempt[] }
  | { type: 'result'; id: number; outputs: Record<string, TensorData>; computeMs: number }
  | { type: 'error'; id: number; message: string };
