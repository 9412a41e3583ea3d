/**
 * Worker thread entry: owns one onnxruntime session and runs the feeds it is sent. session.run
 * computes on the calling thread, so it must never run on the server's event loop.
 */
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { MdlmError } from '../errors.js';
import { type CheckedExport, assertDataUnchanged, checkExport, readCheckedData } from '../model/load.js';
import type { Feeds, TensorArray } from './feeds.js';
import { type ExecutionProvider, type ProviderAttempt, executionProviderConfig, probeProviderEnvironment, selectProvider } from './providers.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import type { WorkerThreadData } from './worker-thread.js';

const port = parentPort;
if (port === null) throw new Error('forward-worker must run in a worker thread');
/** Static imports are done when this line runs: the thread's start and onnxruntime's loading. */
const threadMs = performance.timeOrigin + performance.now() - (workerData as WorkerThreadData).spawnedAtEpochMs;
const waitStarted = performance.now();
const init = await receiveInit();
const waitedMs = performance.now() - waitStarted;

async function receiveInit(): Promise<WorkerInit> {
  const [message] = (await once(port as NonNullable<typeof port>, 'message')) as [ToWorker];
  if (message.type !== 'init') throw new Error(`forward-worker: expected its init first, got ${message.type}`);
  return message.init;
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function sessionOptions(provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [executionProviderConfig(provider, init.providerOptions) as ort.InferenceSession.ExecutionProviderConfig],
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
}

/**
 * A session that owns every weight it reads at run time (see model/load.ts): from model.onnx's
 * checked bytes, with the data file mapped on the CPU, where building the session packs or
 * folds those weights into memory of its own (fp16 products are not packed there, so fp16
 * passes the data in memory as other providers do).
 */
function sessionFactory(checked: CheckedExport): (provider: ExecutionProvider) => Promise<ort.InferenceSession> {
  const { dir, files } = init.model;
  return async (provider) => {
    if (provider === 'cpu' && init.model.dtype !== 'fp16') {
      const options = { ...sessionOptions(provider), extra: { session: { model_external_initializers_file_folder_path: dir } } };
      const session = await ort.InferenceSession.create(checked.model, options);
      assertDataUnchanged(init.model, checked);
      return session;
    }
    const data = readCheckedData(init.model, checked);
    // A model small enough to keep every weight inline has an empty data file, which the binding refuses as a null pointer.
    const externalData = data.byteLength > 0 ? [{ path: files.data, data }] : undefined;
    return ort.InferenceSession.create(checked.model, { ...sessionOptions(provider), externalData } as ort.InferenceSession.SessionOptions);
  };
}

/**
 * Frees the export's bytes now that onnxruntime holds its own copy. This thread allocates
 * almost nothing while it serves, so V8 might not collect them for a long time: a copy of the
 * weights per worker, held for nothing. The flag is process-wide and only exposes gc() to the
 * context created here.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function openSession(): Promise<ort.InferenceSession | undefined> {
  let checked: CheckedExport;
  try {
    // Checked before any provider is tried: a corrupt model is not a missing GPU.
    checked = checkExport(init.model);
  } catch (error) {
    const { code, message } = error as MdlmError;
    post({ type: 'init-failed', code, message });
    return undefined;
  }
  const environment = probeProviderEnvironment(ort.listSupportedBackends());
  const sessionStarted = performance.now();
  try {
    const { provider, session, unavailable } = await selectProvider(init.device, environment, sessionFactory(checked));
    const startup = { threadMs, waitedMs, readMs: checked.readMs, checkMs: checked.checkMs, check: checked.check, sessionMs: performance.now() - sessionStarted };
    post({ type: 'ready', provider, unavailable, inputNames: [...session.inputNames], startup });
    return session;
  } catch (error) {
    // selectProvider fails only with provider_unavailable, whose details hold every reason.
    const { code, message, details } = error as MdlmError;
    post({ type: 'init-failed', code, message, unavailable: details as ProviderAttempt[] });
    return undefined;
  }
}

function tensors(feeds: Feeds): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([name, feed]) => [name, new ort.Tensor(feed.type, feed.data, feed.dims)]));
}

/** Copies: onnxruntime's output buffers are not ours to transfer. */
function copyOutputs(output: ort.InferenceSession.OnnxValueMapType): Record<string, TensorArray> {
  return Object.fromEntries(Object.entries(output).map(([name, tensor]) => [name, (tensor.data as TensorArray).slice()]));
}

async function serve(session: ort.InferenceSession): Promise<void> {
  port?.on('message', async (message: ToWorker) => {
    if (message.type !== 'run') return;
    try {
      const started = performance.now();
      const output = await session.run(tensors(message.feeds));
      const computeMs = performance.now() - started;
      const outputs = copyOutputs(output);
      post({ type: 'result', id: message.id, outputs, computeMs }, Object.values(outputs).map((data) => data.buffer as ArrayBuffer));
    } catch (error) {
      post({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

const session = await openSession();
collectGarbage();
if (session !== undefined) await serve(session);
