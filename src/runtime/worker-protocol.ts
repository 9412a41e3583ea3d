import type { ErrorCode } from '../errors.js';
import type { ExportLocation } from '../model/index.js';
import type { Feeds, TensorArray } from './feeds.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';

export interface WorkerInit {
  model: ExportLocation;
  device: Device;
  providerOptions: ProviderOptions;
  intraOpThreads: number;
}

/** A worker's first message is its init (see worker-thread.ts); every later one is a pass. */
export type ToWorker = { type: 'init'; init: WorkerInit } | { type: 'run'; id: number; feeds: Feeds };

/** Where a worker's start-up went, in ms of its own clock. */
export interface WorkerStartup {
  /** The thread starting and importing onnxruntime, until the worker's code runs. */
  threadMs: number;
  /** Then waiting for its init: a thread started before the model was known (worker-thread.ts). */
  waitedMs: number;
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
  | { type: 'result'; id: number; outputs: Record<string, TensorArray>; computeMs: number }
  | { type: 'error'; id: number; message: string };
