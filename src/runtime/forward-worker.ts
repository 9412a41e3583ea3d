/**
 * Worker thread entry: owns one onnxruntime session of the sample head. session.run
 * computes on the calling thread, so it must never run on the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { MdlmError } from '../errors.js';
import type { ForwardBatch } from './batch.js';
import { type ExecutionProvider, type ProviderAttempt, executionProviderConfig, probeProviderEnvironment, selectProvider } from './providers.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('forward-worker must run in a worker thread');
const init = workerData as WorkerInit;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function createSession(provider: ExecutionProvider): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(init.modelPath, {
    executionProviders: [executionProviderConfig(provider, init.providerOptions) as ort.InferenceSession.ExecutionProviderConfig],
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

async function openSession(): Promise<ort.InferenceSession | undefined> {
  const environment = probeProviderEnvironment(ort.listSupportedBackends());
  try {
    const { provider, session, unavailable } = await selectProvider(init.device, environment, createSession);
    post({ type: 'ready', provider, unavailable });
    return session;
  } catch (error) {
    // selectProvider fails only with provider_unavailable, whose details hold every reason.
    const { message, details } = error as MdlmError;
    post({ type: 'init-failed', message, unavailable: details as ProviderAttempt[] });
    return undefined;
  }
}

function feeds(batch: ForwardBatch): Record<string, ort.Tensor> {
  const { rows, length, positionsPerRow } = batch;
  const result: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', batch.inputIds, [rows, length]),
    positions: new ort.Tensor('int64', batch.positions, [rows, positionsPerRow]),
    uniforms: new ort.Tensor('float64', batch.uniforms, [rows, positionsPerRow]),
    temperature: new ort.Tensor('float32', batch.temperature, [rows]),
  };
  if (batch.sigma !== undefined) result.sigma = new ort.Tensor('float32', batch.sigma, [rows]);
  return result;
}

async function serve(session: ort.InferenceSession): Promise<void> {
  port?.on('message', async (message: ToWorker) => {
    try {
      const started = performance.now();
      const output = await session.run(feeds(message.batch));
      const computeMs = performance.now() - started;
      // Copies: onnxruntime's output buffers are not ours to transfer.
      const tokens = new BigInt64Array(output.tokens?.data as BigInt64Array);
      const logprobs = new Float32Array(output.logprobs?.data as Float32Array);
      post({ type: 'result', id: message.id, tokens, logprobs, computeMs }, [tokens.buffer, logprobs.buffer]);
    } catch (error) {
      post({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

const session = await openSession();
if (session !== undefined) await serve(session);
