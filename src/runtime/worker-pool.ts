import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCodes, MdlmError } from '../errors.js';
import type { ExportLocation } from '../model/index.js';
import { within } from '../util/within.js';
import { type HeadOutputs, packFeeds, transferList, unpackResults } from './feeds.js';
import type { PassOutput, PassRow } from './pass.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';
import type { FromWorker, ToWorker, WorkerInit, WorkerStartup } from './worker-protocol.js';
import { takeWorkerThread } from './worker-thread.js';

export interface RuntimeOptions {
  /** The export: each worker reads and checks its files, then builds its session from the bytes. */
  model: ExportLocation;
  device: Device;
  providerOptions: ProviderOptions;
  /** Worker threads, each with its own session; passes on different workers run in parallel. */
  workers: number;
  /** onnxruntime intra-op threads per worker; defaults to the cores divided among the workers. */
  intraOpThreads?: number;
}

interface Slot {
  index: number;
  worker: Worker;
  /** Starting until the worker says ready (running) or fails to; the caller of a start handles its failure. */
  phase: 'starting' | 'running' | 'failed';
  /** Running and taking passes (a recycled worker is running, not ready). */
  ready: boolean;
  /** It has answered a pass since it started: the model runs. */
  served: boolean;
  pending: { id: number; resolve: (result: WorkerResult) => void; reject: (error: Error) => void } | undefined;
  /** Resolves when the worker answers the pass it was last given, whether or not anyone still waits for it. */
  answered: Promise<void>;
  markAnswered: () => void;
}

/** How the first worker to become ready started: its own breakdown, whether its thread was prestarted, and the wall time from being given its model. */
export type RuntimeStartup = WorkerStartup & { prestarted: boolean; wallMs: number };

interface WorkerResult {
  outputs: Record<string, unknown>;
  computeMs: number;
}

/** Longer than one forward pass of the owt shape on a CPU (about 2.5 s at L = 1024). */
const PASS_WAIT_MS = 5000;

/**
 * A worker that fails to start, or crashes before it has served a pass, is retried after
 * RESTART_BACKOFF_MS, doubling with each failure in a row up to MAX_RESTART_BACKOFF_MS: a model
 * that kills every worker costs little, and one whose files come back is picked up again.
 */
const RESTART_BACKOFF_MS = 500;
const MAX_RESTART_BACKOFF_MS = 30_000;

/**
 * The onnxruntime sessions, one per worker thread: executes passes and nothing else (what to
 * run, and when, is the scheduler's). A pass that throws fails only its own promise; a worker
 * that dies fails its in-flight pass and is replaced. Events say when a worker becomes ready
 * (at start or after a restart) and when one could not be brought back, with when the next
 * attempt is due: restarts go on, with backoff, until one succeeds.
 */
export class ForwardRuntime extends EventEmitter<{ ready: [index: number]; failed: [index: number, reason: string, retryInMs: number] }> {
  provider: ExecutionProvider = 'cpu';
  unavailable: ProviderAttempt[] = [];
  firstStartup: RuntimeStartup | undefined;
  /** Whether the model takes sigma (time-conditioned). */
  private takesSigma = false;
  private readonly slots: Slot[] = [];
  /** Per slot, the failed starts and early crashes in a row: what the backoff grows with. */
  private readonly failures = new Map<number, number>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private nextId = 0;
  private closing = false;

  private constructor(private readonly init: WorkerInit) {
    super();
  }

  static async start(options: RuntimeOptions): Promise<ForwardRuntime> {
    const intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / options.workers));
    const runtime = new ForwardRuntime({
      model: options.model,
      device: options.device,
      providerOptions: options.providerOptions,
      intraOpThreads,
    });
    try {
      await Promise.all(Array.from({ length: options.workers }, (_, index) => runtime.startSlot(index)));
    } catch (error) {
      await runtime.close();
      throw error;
    }
    return runtime;
  }

  get idleWorkers(): number {
    return this.slots.filter((slot) => slot.ready && slot.pending === undefined).length;
  }

  get readyWorkers(): number {
    return this.slots.filter((slot) => slot.ready).length;
  }

  /** Workers being started (after a crash or a failed start): they may yet become ready. */
  get startingWorkers(): number {
    return this.slots.filter((slot) => slot.phase === 'starting').length;
  }

  /** Runs one pass on an idle worker; the caller checks idleWorkers first. */
  async execute(rows: readonly PassRow[]): Promise<PassOutput> {
    const { feeds, layout } = packFeeds(rows, this.takesSigma);
    const { outputs, computeMs } = await this.post({ type: 'run', id: this.nextId++, feeds }, transferList(feeds));
    return { results: unpackResults(outputs as unknown as HeadOutputs, layout), computeMs };
  }

  private post(message: Extract<ToWorker, { type: 'run' }>, transfer: ArrayBuffer[]): Promise<WorkerResult> {
    const slot = this.slots.find((candidate) => candidate.ready && candidate.pending === undefined);
    if (slot === undefined) return Promise.reject(new Error('no idle worker'));
    slot.answered = new Promise<void>((resolve) => {
      slot.markAnswered = resolve;
    });
    return new Promise<WorkerResult>((resolve, reject) => {
      slot.pending = { id: message.id, resolve, reject };
      slot.worker.postMessage(message, transfer);
    });
  }

  /**
   * Replaces a worker as if it had crashed: its in-flight pass fails at once with
   * worker_crashed and a fresh worker starts. The thread is only terminated once
   * onnxruntime's native call has returned: terminating it inside session.run makes the
   * binding throw into a dead environment, which aborts the whole process.
   */
  async recycleWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (slot === undefined) return;
    slot.ready = false;
    const pending = slot.pending;
    slot.pending = undefined;
    pending?.reject(workerStopped());
    await slot.answered;
    await slot.worker.terminate();
  }

  /**
   * Stops every worker once its pass in flight has returned (terminating a thread inside
   * session.run aborts the process, see recycleWorker), waiting at most PASS_WAIT_MS for it.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    await within(Promise.all(this.slots.map((slot) => slot.answered)), PASS_WAIT_MS);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private startSlot(index: number): Promise<void> {
    const spawned = performance.now();
    const { worker, prestarted } = takeWorkerThread();
    worker.postMessage({ type: 'init', init: this.init } satisfies ToWorker);
    const slot: Slot = { index, worker, phase: 'starting', ready: false, served: false, pending: undefined, answered: Promise.resolve(), markAnswered: () => undefined };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        slot.phase = 'failed';
        reject(error);
      };
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          this.provider = message.provider;
          this.unavailable = message.unavailable;
          this.takesSigma = message.inputNames.includes('sigma');
          this.firstStartup ??= { ...message.startup, prestarted, wallMs: performance.now() - spawned };
          slot.phase = 'running';
          slot.ready = true;
          resolve();
          this.emit('ready', index);
        } else if (message.type === 'init-failed') {
          void worker.terminate();
          fail(new MdlmError(message.code, message.message, { details: message.unavailable }));
        } else {
          this.settle(slot, message);
        }
      });
      worker.on('error', fail);
      worker.on('exit', () => {
        if (slot.phase === 'starting') fail(new MdlmError(ErrorCodes.workerCrashed, 'the inference worker exited during start-up'));
        this.onExit(slot);
      });
    });
  }

  private settle(slot: Slot, message: Extract<FromWorker, { type: 'result' | 'error' }>): void {
    slot.markAnswered();
    if (message.type === 'result' && !slot.served) {
      slot.served = true;
      this.failures.delete(slot.index);
    }
    const pending = slot.pending;
    if (pending === undefined || pending.id !== message.id) return;
    slot.pending = undefined;
    if (message.type === 'result') pending.resolve({ outputs: message.outputs, computeMs: message.computeMs });
    else pending.reject(new MdlmError(ErrorCodes.inferenceFailed, `forward pass failed: ${message.message}`));
  }

  /** A worker that stopped after it was running (a crash or a recycle) is restarted; a failed start is retried by restart(). */
  private onExit(slot: Slot): void {
    if (this.slots[slot.index] !== slot) return;
    slot.ready = false;
    slot.pending?.reject(workerStopped());
    slot.pending = undefined;
    if (this.closing || slot.phase !== 'running') return;
    if (!slot.served) this.failures.set(slot.index, (this.failures.get(slot.index) ?? 0) + 1);
    this.restart(slot.index);
  }

  /** Starts slot `index` again after the backoff its failures in a row call for, and keeps retrying until it is ready. */
  private restart(index: number): void {
    const failures = this.failures.get(index) ?? 0;
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.startSlot(index).catch((error: Error) => {
        const next = failures + 1;
        this.failures.set(index, next);
        this.emit('failed', index, error.message, backoffMs(next));
        this.restart(index);
      });
    }, backoffMs(failures));
    this.restartTimers.add(timer);
  }
}

function backoffMs(failures: number): number {
  return failures === 0 ? 0 : Math.min(RESTART_BACKOFF_MS * 2 ** (failures - 1), MAX_RESTART_BACKOFF_MS);
}

function workerStopped(): MdlmError {
  return new MdlmError(ErrorCodes.workerCrashed, 'the inference worker stopped during a forward pass; it is being restarted');
}
