import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ErrorCodes, isMdlmError } from '../../src/errors.js';
import { readManifest } from '../../src/families/index.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../../src/runtime/index.js';
import { describeProviderChoice, executionProviderConfig, probeProviderEnvironment } from '../../src/runtime/providers.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

/** What this machine offers: the tests below expect what it implies, so they hold on a GPU host too. */
const environment = probeProviderEnvironment(ort.listSupportedBackends());
const cudaInstalled = environment.backends.some((backend) => backend.name === 'cuda') && environment.missingCudaLibraries.length === 0;
const exportDir = exportHead(await synthCheckpoint(), 'positions');

async function start(device: 'auto' | 'cuda' | 'webgpu'): Promise<ForwardRuntime> {
  const dir = await exportDir;
  const { files, dtype } = await readManifest(dir);
  return ForwardRuntime.start({ model: { dir, files, dtype }, device, providerOptions: ProviderOptionsSchema.parse({}), workers: 1, intraOpThreads: 1 });
}

test('a real worker with --device auto names each provider it passed over, with the fix, and runs on the one it chose', async (t) => {
  const runtime = await start('auto');
  try {
    t.diagnostic(describeProviderChoice(runtime.provider, runtime.unavailable));
    const skipped = runtime.unavailable.map((entry) => entry.provider);
    assert.deepEqual(skipped, ['cuda', 'webgpu', 'cpu'].slice(0, skipped.length));
    assert.equal(runtime.provider, ['cuda', 'webgpu', 'cpu'][skipped.length]);
    const cuda = runtime.unavailable.find((entry) => entry.provider === 'cuda');
    if (!cudaInstalled) assert.match(cuda?.reason ?? '', /install them with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install`/);
    const webgpu = runtime.unavailable.find((entry) => entry.provider === 'webgpu');
    if (webgpu !== undefined) assert.match(webgpu.reason, environment.vulkanLoader === false ? /libvulkan\.so\.1 is not installed.*libvulkan1/ : /WebGPU adapter/);
    const draws = { positions: Int32Array.of(0, 31), uniforms: Float64Array.of(0.25, 0.75), temperature: 1, topP: 1, topK: 0 };
    const { results } = await runtime.execute([{ tokens: new Int32Array(32).fill(63), sigma: 0, draws }]);
    assert.equal(results[0]?.draws.tokens.length, 2);
  } finally {
    await runtime.close();
  }
});

test('--device cuda where the CUDA provider is not installed fails with provider_unavailable and the reinstall fix', { skip: cudaInstalled && 'the CUDA provider is installed here' }, async () => {
  await assert.rejects(start('cuda'), (error: unknown) => {
    assert.ok(isMdlmError(error));
    assert.equal(error.code, ErrorCodes.providerUnavailable);
    assert.match(error.message, /--device cuda was requested but cannot be used: cuda: onnxruntime-node was installed without its CUDA provider.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    return true;
  });
});

test('the binding accepts every WebGPU option the schema allows (and refuses one it does not)', async () => {
  const modelPath = join(await exportDir, 'model.onnx');
  const options = ProviderOptionsSchema.parse({ webgpu: { preferredLayout: 'NHWC', validationMode: 'basic' } });
  const outcome = await ort.InferenceSession.create(modelPath, { executionProviders: [executionProviderConfig('webgpu', options) as ort.InferenceSession.ExecutionProviderConfig] }).then(
    (session) => session.release().then(() => 'created'),
    (error: Error) => error.message,
  );
  // No adapter here is fine; what must not happen is the binding refusing an option name.
  assert.doesNotMatch(outcome, /unrecognized option/);
  await assert.rejects(ort.InferenceSession.create(modelPath, { executionProviders: [{ name: 'webgpu', deviceId: 0 } as ort.InferenceSession.ExecutionProviderConfig] }), /unrecognized option: 'deviceId'/);
});
