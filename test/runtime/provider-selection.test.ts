import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, isMdlmError } from '../../src/errors.js';
import {
  DEVICES,
  type Device,
  type ExecutionProvider,
  ProviderOptionsSchema,
  type ProviderEnvironment,
  executionProviderConfig,
  selectProvider,
} from '../../src/runtime/providers.js';

/** What onnxruntime 1.29's CUDA 13 provider says without a driver (bench/gpu/run.sh --dry-run, README). */
const CUDA_CALL_SIGNATURE =
  'std::conditional_t<THRW, void, onnxruntime::common::Status> onnxruntime::CudaCall(ERRTYPE, const char*, const char*, SUCCTYPE, const char*, const char*, int) ' +
  '[with ERRTYPE = cudaError; bool THRW = true; SUCCTYPE = cudaError; std::conditional_t<THRW, void, common::Status> = void]';
const DRIVER_TOO_OLD =
  `/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:154 ${CUDA_CALL_SIGNATURE} /onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:146 ${CUDA_CALL_SIGNATURE} ` +
  'CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=-1 ; hostname=vm ; ' +
  'file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_execution_provider.cc ; line=345 ; expr=cudaSetDevice(info_.device_id); ';

/** onnxruntime-node's whole error when the provider library does not load: the reason goes only to its log. */
const LOAD_FAILED = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';

interface CudaStateSpec {
  backend: boolean;
  missing: readonly string[];
  /** onnxruntime's error creating the session, if any. */
  failure?: string;
  /** What the dynamic loader then says about the provider library (ProviderEnvironment.cudaProviderLoadError). */
  loadError?: string;
  reasonHas: readonly string[];
}

function libraryMissing(library: string, reasonHas: readonly string[]): CudaStateSpec {
  return { backend: true, missing: [], failure: LOAD_FAILED, loadError: `${library}: cannot open shared object file: No such file or directory`, reasonHas: [library, ...reasonHas] };
}

/** Each way the CUDA provider can stand on a machine, with the words its reason must contain. */
const CUDA_STATES = {
  notBuilt: { backend: false, missing: [], reasonHas: ['no CUDA provider', '--device cpu'] },
  notInstalled: {
    backend: true,
    missing: ['libonnxruntime_providers_cuda.so'],
    reasonHas: ['ONNXRUNTIME_NODE_INSTALL=cuda12', 'libonnxruntime_providers_cuda.so', 'CUDA 13 host', 'onnxruntime-node 1.29.0', 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9'],
  },
  noCudnn: libraryMissing('libcudnn.so.9', ['cuDNN 9', 'LD_LIBRARY_PATH']),
  noCuda12: libraryMissing('libcublasLt.so.12', ['CUDA 12', 'CUDA 13 host', 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9']),
  noCuda13: libraryMissing('libcublas.so.13', ['CUDA 13 library', 'LD_LIBRARY_PATH', 'nvidia/cu13/lib']),
  noCurand: libraryMissing('libcurand.so.10', ["provider's CUDA version"]),
  noDriver: libraryMissing('libcuda.so.1', ['NVIDIA driver']),
  // The loader has no complaint (it loads but onnxruntime still fails): its own words, nothing guessed.
  loadsYetFails: { backend: true, missing: [], failure: LOAD_FAILED, reasonHas: ['the CUDA provider failed to start', 'Failed to load shared library'] },
  noDevice: { backend: true, missing: [], failure: 'CUDA failure 100: no CUDA-capable device is detected ; GPU=0', reasonHas: ['nvidia-smi', '--gpus all'] },
  oldDriver: {
    backend: true,
    missing: [],
    failure: DRIVER_TOO_OLD,
    reasonHas: ['older than the CUDA version', '13 for the CUDA 13 route', '(CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version (in cudaSetDevice))', 'nvidia-smi'],
  },
  works: { backend: true, missing: [], reasonHas: [] },
} satisfies Record<string, CudaStateSpec>;

const WEBGPU_STATES = {
  notBuilt: { backend: false, loader: undefined, fails: false, reasonHas: ['no WebGPU provider'] },
  noLoader: { backend: true, loader: false, fails: true, reasonHas: ['libvulkan1', 'Vulkan driver'] },
  noAdapter: { backend: true, loader: true, fails: true, reasonHas: ['VK_DRIVER_FILES', 'graphics', 'No supported adapters'] },
  works: { backend: true, loader: true, fails: false, reasonHas: [] },
} as const;

type CudaState = keyof typeof CUDA_STATES;
type WebGpuState = keyof typeof WEBGPU_STATES;

function environment(cuda: CudaState, webgpu: WebGpuState): ProviderEnvironment {
  const backends = [{ name: 'cpu', bundled: true }];
  if (WEBGPU_STATES[webgpu].backend) backends.push({ name: 'webgpu', bundled: true });
  if (CUDA_STATES[cuda].backend) backends.push({ name: 'cuda', bundled: false });
  const spec: CudaStateSpec = CUDA_STATES[cuda];
  return { platform: 'linux/x64', backends, missingCudaLibraries: spec.missing, vulkanLoader: WEBGPU_STATES[webgpu].loader, cudaProviderLoadError: () => spec.loadError };
}

/** What onnxruntime would do in that state: the session, or its error. */
function fakeAttempt(cuda: CudaState, webgpu: WebGpuState, cpuWorks: boolean, tried: ExecutionProvider[]) {
  return async (provider: ExecutionProvider): Promise<string> => {
    tried.push(provider);
    if (provider === 'cuda') {
      const { failure }: CudaStateSpec = CUDA_STATES[cuda];
      if (failure !== undefined) throw new Error(failure);
      if (cuda !== 'works') throw new Error('attempted a CUDA provider that is not installed');
    }
    if (provider === 'webgpu' && WEBGPU_STATES[webgpu].fails) throw new Error('Failed to get a WebGPU adapter: No supported adapters');
    if (provider === 'cpu' && !cpuWorks) throw new Error('Load model from model.onnx failed: Protobuf parsing failed.\nmore detail');
    return `session on ${provider}`;
  };
}

function usable(provider: ExecutionProvider, cuda: CudaState, webgpu: WebGpuState, cpuWorks: boolean): boolean {
  if (provider === 'cuda') return cuda === 'works';
  if (provider === 'webgpu') return webgpu === 'works';
  return cpuWorks;
}

function reasonWords(provider: ExecutionProvider, cuda: CudaState, webgpu: WebGpuState): readonly string[] {
  if (provider === 'cuda') return CUDA_STATES[cuda].reasonHas;
  if (provider === 'webgpu') return WEBGPU_STATES[webgpu].reasonHas;
  return ['Protobuf parsing failed'];
}

const ORDER: ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

test('provider selection: every device × CUDA state × WebGPU state × CPU outcome', async () => {
  let combinations = 0;
  for (const device of DEVICES) {
    for (const cuda of Object.keys(CUDA_STATES) as CudaState[]) {
      for (const webgpu of Object.keys(WEBGPU_STATES) as WebGpuState[]) {
        for (const cpuWorks of [true, false]) {
          combinations++;
          const label = `${device}, cuda ${cuda}, webgpu ${webgpu}, cpu ${cpuWorks ? 'works' : 'fails'}`;
          const candidates = device === 'auto' ? ORDER : [device];
          const chosen = candidates.find((provider) => usable(provider, cuda, webgpu, cpuWorks));
          const expectedUnavailable = chosen === undefined ? candidates : candidates.slice(0, candidates.indexOf(chosen));
          const tried: ExecutionProvider[] = [];
          const outcome = await selectProvider(device, environment(cuda, webgpu), fakeAttempt(cuda, webgpu, cpuWorks, tried)).then(
            (selection) => selection,
            (error: unknown) => error,
          );
          const unavailable = chosen === undefined ? assertUnavailableError(outcome, device, label) : assertSelection(outcome, chosen, label);
          assert.deepEqual(unavailable.map((entry) => entry.provider), expectedUnavailable, label);
          for (const entry of unavailable) {
            for (const word of reasonWords(entry.provider, cuda, webgpu)) assert.ok(entry.reason.includes(word), `${label}: ${entry.provider} reason lacks "${word}": ${entry.reason}`);
            assert.ok(!entry.reason.includes('\n'), `${label}: one line`);
          }
          // Known-missing providers are never tried: no session creation that is bound to fail.
          const knownMissing = (provider: ExecutionProvider) => (provider === 'cuda' && (cuda === 'notBuilt' || cuda === 'notInstalled')) || (provider === 'webgpu' && (webgpu === 'notBuilt' || webgpu === 'noLoader'));
          const reached = chosen === undefined ? candidates : candidates.slice(0, candidates.indexOf(chosen) + 1);
          assert.deepEqual(tried, reached.filter((provider) => !knownMissing(provider)), `${label}: tried ${tried.join(',')}`);
        }
      }
    }
  }
  assert.equal(combinations, DEVICES.length * Object.keys(CUDA_STATES).length * 4 * 2);
});

function assertSelection(outcome: unknown, chosen: ExecutionProvider, label: string) {
  assert.ok(!(outcome instanceof Error), `${label}: ${String(outcome)}`);
  const selection = outcome as Awaited<ReturnType<typeof selectProvider<string>>>;
  assert.equal(selection.provider, chosen, label);
  assert.equal(selection.session, `session on ${chosen}`, label);
  return selection.unavailable;
}

function assertUnavailableError(outcome: unknown, device: Device, label: string) {
  assert.ok(isMdlmError(outcome), `${label}: expected an error`);
  assert.equal(outcome.code, ErrorCodes.providerUnavailable, label);
  if (device !== 'auto') assert.match(outcome.message, new RegExp(`^--device ${device} was requested but cannot be used: ${device}: `), label);
  return outcome.details as { provider: ExecutionProvider; reason: string }[];
}

test('an explicit device never falls back, even when the CPU would work', async () => {
  const tried: ExecutionProvider[] = [];
  await assert.rejects(
    selectProvider('cuda', environment('notInstalled', 'works'), fakeAttempt('notInstalled', 'works', true, tried)),
    (error: unknown) => isMdlmError(error) && error.code === ErrorCodes.providerUnavailable && error.message.includes('ONNXRUNTIME_NODE_INSTALL=cuda12'),
  );
  assert.deepEqual(tried, []);
});

test('provider options: defaults, what reaches onnxruntime, and keys the binding would drop are refused with the reason', () => {
  const defaults = ProviderOptionsSchema.parse({});
  assert.deepEqual(executionProviderConfig('cuda', defaults), { name: 'cuda' });
  assert.deepEqual(executionProviderConfig('cpu', defaults), { name: 'cpu' });

  const options = ProviderOptionsSchema.parse({ cuda: { deviceId: 1 }, webgpu: { preferredLayout: 'NHWC', validationMode: 'disabled' } });
  assert.deepEqual(executionProviderConfig('cuda', options), { name: 'cuda', deviceId: 1 });
  assert.deepEqual(executionProviderConfig('webgpu', options), { name: 'webgpu', preferredLayout: 'NHWC', validationMode: 'disabled' });

  for (const [input, words] of [
    [{ cuda: { gpuMemLimit: 1 << 30 } }, ['gpuMemLimit', 'deviceId only']],
    [{ cuda: { arenaExtendStrategy: 'kSameAsRequested', cudnnConvAlgoSearch: 'HEURISTIC' } }, ['arenaExtendStrategy, cudnnConvAlgoSearch']],
    [{ webgpu: { deviceId: 0 } }, ['WebGPU option deviceId', 'chosen by Dawn']],
    [{ tensorrt: {} }, ['tensorrt']],
  ] as const) {
    const parsed = ProviderOptionsSchema.safeParse(input);
    assert.ok(!parsed.success, JSON.stringify(input));
    const message = parsed.error.issues.map((issue) => issue.message).join('; ') + JSON.stringify(parsed.error.issues);
    for (const word of words) assert.ok(message.includes(word), `${JSON.stringify(input)}: ${message}`);
  }
  assert.equal(ProviderOptionsSchema.safeParse({ cuda: { deviceId: -1 } }).success, false);
  assert.equal(ProviderOptionsSchema.safeParse({ webgpu: { preferredLayout: 'NCWH' } }).success, false);
});
