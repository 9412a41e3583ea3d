/**
 * Worker thread entry: owns one onnxruntime session and runs the feeds it is sent. session.run
 * computes on the calling thread, so it must never run on the server's event loop.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { MdlmError } from '../errors.js';
import { type ExportBytes, readExport } from '../model/index.js';
import type { Feeds, TensorData } from './feeds.js';
import { type ExecutionProvider, type ProviderAttempt, executionProviderConfig, probeProviderEnvironment, selectProvider } from './providers.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('forward-worker must run in a worker thread');
const init = workerData as WorkerInit;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

/**
 * A session built from bytes held in memory, weights included (`externalData`): onnxruntime
 * copies them and never maps the export's files, so nothing done to those files later can
 * reach a running session. The bytes are dropped once the session exists.
 */
function sessionFactory(bytes: ExportBytes): (provider: ExecutionProvider) => Promise<ort.InferenceSession> {
  return (provider) =>
    ort.InferenceSession.create(bytes.model, {
      executionProviders: [executionProviderConfig(provider, init.providerOptions) as ort.InferenceSession.ExecutionProviderConfig],
      intraOpNumThreads: init.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      externalData: [{ path: init.model.files.data, data: bytes.data }],
    } as ort.InferenceSession.SessionOptions);
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
  let bytes: ExportBytes;
  try {
    // Checked before any provider is tried: a corrupt model is not a missing GPU.
    bytes = readExport(init.model);
  } catch (error) {
    const { code, message } = error as MdlmError;
    post({ type: 'init-failed', code, message });
    return undefined;
  }
  const environment = probeProviderEnvironment(ort.listSupportedBackends());
  try {
    const { provider, session, unavailable } = await selectProvider(init.device, environment, sessionFactory(bytes));
    post({ type: 'ready', provider, unavailable, inputNames: [...session.inputNames] });
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
function copyOutputs(output: ort.InferenceSession.OnnxValueMapType): Record<string, TensorData> {
  return Object.fromEntries(Object.entries(output).map(([name, tensor]) => [name, (tensor.data as TensorData).slice()]));
}

async function serve(session: ort.InferenceSession): Promise<void> {
  port?.on('message', async (message: ToWorker) => {
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
