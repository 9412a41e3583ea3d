/**
 * A forward worker's thread, started apart from the model it will open: the thread starts and
 * loads onnxruntime (about 100 ms) and then waits for its WorkerInit, its first message. So a
 * one-off command can start one as the process starts (bin/mdlm.js), while the CLI's own
 * modules load, and the runtime adopts it. This module imports nothing else, to be quick to load.
 */
import { Worker } from 'node:worker_threads';

export interface WorkerThreadData {
  /** When the thread was started, in ms since the epoch: the two threads' clocks need not share an origin. */
  spawnedAtEpochMs: number;
}

const WORKER_URL = new URL(`./forward-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function startThread(): Worker {
  const workerData: WorkerThreadData = { spawnedAtEpochMs: performance.timeOrigin + performance.now() };
  if (WORKER_URL.pathname.endsWith('.ts')) {
    // Running from TypeScript sources under tsx (tests, development): Node 20 does not give
    // workers the parent's loader hooks, so the worker registers tsx before importing itself.
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
    return new Worker(bootstrap, { eval: true, workerData });
  }
  return new Worker(WORKER_URL, { workerData });
}

let prestarted: Worker | undefined;

/** Until a runtime adopts it, an error is the thread's own: it exits, and the runtime starts a fresh one that reports it. */
const ignoreUntilAdopted = () => undefined;

/**
 * Starts one thread for the next runtime to adopt. Until then it does not keep the process
 * alive: a command that fails before opening a model exits as it would have.
 */
export function prestartWorkerThread(): void {
  if (prestarted !== undefined) return;
  const worker = startThread();
  worker.unref();
  worker.on('error', ignoreUntilAdopted);
  worker.once('exit', () => {
    if (prestarted === worker) prestarted = undefined;
  });
  prestarted = worker;
}

/** The prestarted thread, if there is one, else a new one; with `prestarted` saying which. */
export function takeWorkerThread(): { worker: Worker; prestarted: boolean } {
  const adopted = prestarted;
  prestarted = undefined;
  if (adopted === undefined) return { worker: startThread(), prestarted: false };
  adopted.off('error', ignoreUntilAdopted);
  adopted.ref();
  return { worker: adopted, prestarted: true };
}
