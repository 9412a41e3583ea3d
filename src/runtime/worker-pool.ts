import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, MdlmError } from '../errors.js';
import { within } from '../util/within.js';
import { type HeadOutputs, packFeeds, transferList, unpackResults } from './feeds.js';
import type { PassOutput, PassRow } from './pass.js';
import type { Device, ExecutionProvider, ProviderAttempt, ProviderOptions } from './providers.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

export interface RuntimeOptions {
  modelPath: string;
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
  ready: boolean;
  /** The session could not be created: restarting would fail the same way. */
  initFailed: boolean;
  pending: { id: number; resolve: (result: WorkerResult) => void; reject: (error: Error) => void } | undefined;
  /** Resolves when the worker answers the pass it was last given, whether or not anyone still waits for it. */
  answered: Promise<void>;
  markAnswered: () => void;
}

interface WorkerResult {
  outputs: Record<string, unknown>;
  computeMs: number;
}

/** Longer than one forward pass of the owt shape on a CPU (about 2.5 s at L = 1024). */
const PASS_WAIT_MS = 5000;

/** Crashes tolerated per slot before the runtime stops restarting it: a model that kills every worker. */
const MAX_RESTARTS = 5;

const WORKER_URL = new URL(`./forward-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function spawn(init: WorkerInit): Worker {
  if (WORKER_URL.pathname.endsWith('.ts')) {
    // Running from TypeScript sources under tsx (tests, development): Node 20 does not give
    // workers the parent's loader hooks, so the worker registers tsx before importing itself.
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
    return new Worker(bootstrap, { eval: true, workerData: init });
  }
  return new Worker(WORKER_URL, { workerData: init });
}

/**
 * The onnxruntime sessions, one per worker thread: executes passes and nothing else (what to
 * run, and when, is the scheduler's). A pass that throws fails only its own promise; a worker
 * that dies fails its in-flight pass and is replaced. Events say when a worker becomes ready
 * (at start or after a restart) and when one could not be brought back.
 */
export class ForwardRuntime extends EventEmitter<{ ready: [index: number]; failed: [index: number, reason: string] }> {
  provider: ExecutionProvider = 'cpu';
  unavailable: ProviderAttempt[] = [];
  /** Whether the model takes sigma (time-conditioned). */
  private takesSigma = false;
  private readonly slots: Slot[] = [];
  private readonly restarts = new Map<number, number>();
  private nextId = 0;
  private closing = false;

  private constructor(private readonly init: WorkerInit) {
    super();
  }

  static async start(options: RuntimeOptions): Promise<ForwardRuntime> {
    const intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / options.workers));
    const runtime = new ForwardRuntime({
      modelPath: options.modelPath,
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

  /** Runs one pass on an idle worker; the caller checks idleWorkers first. */
  async execute(rows: readonly PassRow[]): Promise<PassOutput> {
    const { feeds, layout } = packFeeds(rows, this.takesSigma);
    const { outputs, computeMs } = await this.post({ type: 'run', id: this.nextId++, feeds }, transferList(feeds));
    return { results: unpackResults(outputs as unknown as HeadOutputs, layout), computeMs };
  }

  private post(message: ToWorker, transfer: ArrayBuffer[]): Promise<WorkerResult> {
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
    await within(Promise.all(this.slots.map((slot) => slot.answered)), PASS_WAIT_MS);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private startSlot(index: number): Promise<void> {
    const worker = spawn(this.init);
    const slot: Slot = { index, worker, ready: false, initFailed: false, pending: undefined, answered: Promise.resolve(), markAnswered: () => undefined };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          this.provider = message.provider;
          this.unavailable = message.unavailable;
          this.takesSigma = message.inputNames.includes('sigma');
          slot.ready = true;
          resolve();
          this.emit('ready', index);
        } else if (message.type === 'init-failed') {
          slot.initFailed = true;
          void worker.terminate();
          reject(new MdlmError(ErrorCodes.providerUnavailable, message.message, { details: message.unavailable }));
        } else {
          this.settle(slot, message);
        }
      });
      worker.on('error', (error) => reject(error));
      worker.on('exit', () => {
        reject(new MdlmError(ErrorCodes.workerCrashed, 'the inference worker exited during start-up'));
        this.onExit(slot);
      });
    });
  }

  private settle(slot: Slot, message: Extract<FromWorker, { type: 'result' | 'error' }>): void {
    slot.markAnswered();
    const pending = slot.pending;
    if (pending === undefined || pending.id !== message.id) return;
    slot.pending = undefined;
    if (message.type === 'result') pending.resolve({ outputs: message.outputs, computeMs: message.computeMs });
    else pending.reject(new MdlmError(ErrorCodes.inferenceFailed, `forward pass failed: ${message.message}`));
  }

  private onExit(slot: Slot): void {
    if (this.slots[slot.index] !== slot) return;
    slot.ready = false;
    slot.pending?.reject(workerStopped());
    slot.pending = undefined;
    if (this.closing || slot.initFailed) return;
    const restarts = (this.restarts.get(slot.index) ?? 0) + 1;
    this.restarts.set(slot.index, restarts);
    if (restarts > MAX_RESTARTS) {
      this.emit('failed', slot.index, `worker ${slot.index} crashed ${restarts} times; not restarting it`);
      return;
    }
    this.startSlot(slot.index).catch((error: Error) => this.emit('failed', slot.index, error.message));
  }
}

function workerStopped(): MdlmError {
  return new MdlmError(ErrorCodes.workerCrashed, 'the inference worker stopped during a forward pass; it is being restarted');
}
