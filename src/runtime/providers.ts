import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';

export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];
export type ExecutionProvider = Exclude<Device, 'auto'>;

/**
 * Rejects keys the schema does not know, saying why: onnxruntime-node 1.30's binding passes
 * only `deviceId` to the CUDA provider (arena, memory-limit and cuDNN settings never reach it)
 * and refuses any WebGPU key outside its own list (`deviceId` included), so accepting such a
 * key would either do nothing or break session creation.
 */
function onlyKnownKeys(provider: string, accepted: string): z.core.$ZodErrorMap {
  return (issue) =>
    issue.code === 'unrecognized_keys'
      ? `${provider} option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} cannot be passed through onnxruntime-node 1.30 (its binding accepts ${accepted})`
      : undefined;
}

/** Provider options a deployment may set without code changes: exactly what onnxruntime-node forwards. */
export const ProviderOptionsSchema = z.strictObject({
  cuda: z
    .strictObject({ deviceId: z.number().int().nonnegative().optional() }, { error: onlyKnownKeys('CUDA', 'deviceId only') })
    .default({}),
  webgpu: z
    .strictObject(
      {
        /** Tensor layout the WebGPU kernels prefer for convolutions (MDLM has none; kept for other graphs). */
        preferredLayout: z.enum(['NCHW', 'NHWC']).optional(),
        /** Dawn validation: 'disabled' is fastest, 'full' finds driver-level misuse. */
        validationMode: z.enum(['disabled', 'wgpuOnly', 'basic', 'full']).optional(),
      },
      { error: onlyKnownKeys('WebGPU', 'preferredLayout and validationMode; the adapter is chosen by Dawn') },
    )
    .default({}),
});
export type ProviderOptions = z.infer<typeof ProviderOptionsSchema>;

/** What onnxruntime-node's session options take for `provider`. */
export function executionProviderConfig(provider: ExecutionProvider, options: ProviderOptions): { name: ExecutionProvider } & Record<string, unknown> {
  if (provider === 'cuda') return { name: 'cuda', ...options.cuda };
  if (provider === 'webgpu') return { name: 'webgpu', ...options.webgpu };
  return { name: 'cpu' };
}

export interface ProviderAttempt {
  provider: ExecutionProvider;
  /** Why it could not be used, with what to do about it. */
  reason: string;
}

/** What onnxruntime-node and the machine offer, gathered once by the caller (see probeProviderEnvironment). */
export interface ProviderEnvironment {
  /** `${process.platform}/${process.arch}`, for messages. */
  platform: string;
  /** ort.listSupportedBackends(): providers compiled into the binding; `bundled: false` means its libraries are installed separately. */
  backends: readonly { name: string; bundled: boolean }[];
  /** The CUDA provider libraries absent from the binding's folder (empty when all are there). */
  missingCudaLibraries: readonly string[];
  /** Whether the Vulkan loader (libvulkan.so.1) is on the library path; undefined where WebGPU does not use Vulkan. */
  vulkanLoader: boolean | undefined;
  /**
   * Why the dynamic loader refuses the CUDA provider library (a dependency it cannot find or whose
   * version it lacks), undefined when that is not why; asked only once onnxruntime has failed to
   * load it, because onnxruntime-node's error then says only "Failed to load shared library".
   */
  cudaProviderLoadError: () => string | undefined;
}

export interface ProviderSelection<S> {
  provider: ExecutionProvider;
  session: S;
  /** The providers tried before `provider`, in order, each with its reason and fix. */
  unavailable: ProviderAttempt[];
}

/** The order `auto` tries providers in: fastest first, the CPU always last and always there. */
export function candidateProviders(device: Device): ExecutionProvider[] {
  return device === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [device];
}

/**
 * Picks the execution provider for `device`: tries each candidate with `attempt` (which creates
 * the session and throws when it cannot) unless the environment already shows it cannot work.
 * `auto` falls back to the next candidate; an explicit device that cannot start is an error,
 * never a silent move to the CPU.
 */
export async function selectProvider<S>(
  device: Device,
  environment: ProviderEnvironment,
  attempt: (provider: ExecutionProvider) => Promise<S>,
): Promise<ProviderSelection<S>> {
  const unavailable: ProviderAttempt[] = [];
  for (const provider of candidateProviders(device)) {
    const knownMissing = missingPrerequisite(provider, environment);
    if (knownMissing !== undefined) {
      unavailable.push({ provider, reason: knownMissing });
      continue;
    }
    try {
      return { provider, session: await attempt(provider), unavailable };
    } catch (error) {
      unavailable.push({ provider, reason: explainProviderFailure(provider, error, environment) });
    }
  }
  throw new MdlmError(ErrorCodes.providerUnavailable, unavailableMessage(device, unavailable), { details: unavailable });
}

/** One log line: what was chosen and why each earlier candidate was not. */
export function describeProviderChoice(provider: ExecutionProvider, unavailable: readonly ProviderAttempt[]): string {
  const skipped = unavailable.map((entry) => `${entry.provider} unavailable: ${entry.reason}`);
  return [`execution provider: ${provider}`, ...skipped].join('; ');
}

function unavailableMessage(device: Device, unavailable: readonly ProviderAttempt[]): string {
  const reasons = unavailable.map((entry) => `${entry.provider}: ${entry.reason}`).join('; ');
  return device === 'auto' ? `every execution provider failed: ${reasons}` : `--device ${device} was requested but cannot be used: ${reasons}`;
}

/** A reason known before trying: the provider is not in this build, or its libraries are not installed. */
function missingPrerequisite(provider: ExecutionProvider, environment: ProviderEnvironment): string | undefined {
  if (provider === 'cpu') return undefined;
  const backend = environment.backends.find((candidate) => candidate.name === provider);
  if (backend === undefined) {
    return `onnxruntime-node has no ${provider === 'cuda' ? 'CUDA' : 'WebGPU'} provider for ${environment.platform}; use --device cpu${provider === 'cuda' ? ' (the CUDA provider exists for linux/x64 and win32/x64)' : ''}`;
  }
  // Without the loader, Dawn can only fail, and it prints a warning to stderr while it does.
  if (provider === 'webgpu' && environment.vulkanLoader === false) return NO_VULKAN_LOADER;
  if (provider === 'cuda' && environment.missingCudaLibraries.length > 0) {
    return (
      `onnxruntime-node was installed without its CUDA provider (${environment.missingCudaLibraries.join(', ')} missing): ` +
      `for CUDA 12 and cuDNN 9, install them with \`${CUDA_INSTALL_COMMAND}\` (downloads them from NuGet, so it needs network access); ${CUDA13_ROUTE}`
    );
  }
  return undefined;
}

/** Turns onnxruntime's failure to start `provider` into a reason a user can act on. */
export function explainProviderFailure(provider: ExecutionProvider, error: unknown, environment: ProviderEnvironment): string {
  const message = firstLine(error instanceof Error ? error.message : String(error));
  if (provider === 'cuda') {
    const loadError = /Failed to load shared library/.test(message) ? environment.cudaProviderLoadError() : undefined;
    return explainCudaFailure(loadError === undefined ? message : `${message}: ${loadError}`);
  }
  if (provider === 'webgpu') return explainWebGpuFailure(message, environment.vulkanLoader);
  return message;
}

function explainCudaFailure(onnxruntimeMessage: string): string {
  const message = cudaCallFailure(onnxruntimeMessage);
  const library = /(lib[\w.+-]+?\.so[.\d]*): cannot open shared object file/.exec(message)?.[1];
  if (library !== undefined) return `${missingLibraryFix(library)} (${message})`;
  if (/no CUDA-capable device|cudaErrorNoDevice|driver version is insufficient|InsufficientDriver|CUDA driver/i.test(message)) {
    return (
      `no usable NVIDIA GPU: the driver is missing, older than the CUDA version the provider was built for ` +
      `(12 for onnxruntime-node's own download, 13 for the CUDA 13 route), or the GPU is not visible (${message}); check nvidia-smi, and in Docker run with --gpus all`
    );
  }
  return `the CUDA provider failed to start (${message})`;
}

/**
 * onnxruntime's failed CUDA call without the two C++ signatures it starts with: "CUDA failure 35:
 * CUDA driver version is insufficient for CUDA runtime version (in cudaSetDevice)".
 */
function cudaCallFailure(message: string): string {
  const failure = /CUDA failure (\d+): ([^;]+?)\s*(?:;|$)/.exec(message);
  if (failure === null) return message;
  const call = /expr=(\w+)/.exec(message)?.[1];
  return `CUDA failure ${failure[1]}: ${failure[2]}${call === undefined ? '' : ` (in ${call})`}`;
}

/** The CUDA major version a library's soname names, where it names one (cuRAND's 10 serves CUDA 12 and 13 alike). */
const CUDA_MAJOR_OF_SONAME = /^lib(?:cudart|cublas|cublasLt|cufft)\.so\.(1[23])$/;

function missingLibraryFix(library: string): string {
  if (library.startsWith('libcuda.so')) {
    return `the NVIDIA driver library ${library} was not found: install the NVIDIA driver (in Docker: the NVIDIA Container Toolkit and --gpus all)`;
  }
  if (library.startsWith('libcudnn')) {
    return `cuDNN 9 (${library}) was not found: install cuDNN 9 for the provider's CUDA version (e.g. an nvidia/cuda:12.x-cudnn-runtime image, or PyTorch's nvidia-cudnn wheel) and put its folder on LD_LIBRARY_PATH`;
  }
  const major = CUDA_MAJOR_OF_SONAME.exec(library)?.[1];
  if (major === '12') {
    return `the CUDA 12 library ${library} was not found: this CUDA provider is onnxruntime-node's CUDA 12 build; install the CUDA 12 runtime libraries (cudart, cuBLAS, cuRAND) and put them on LD_LIBRARY_PATH. A CUDA 13 installation does not provide them: ${CUDA13_ROUTE}`;
  }
  if (major === '13') {
    return `the CUDA 13 library ${library} was not found: this CUDA provider is a CUDA 13 build; put CUDA 13's cudart, cuBLAS and cuRAND on LD_LIBRARY_PATH (PyTorch's cu13 wheels have them in site-packages/nvidia/cu13/lib)`;
  }
  return `the CUDA library ${library} was not found: install the CUDA runtime libraries of the provider's CUDA version (cudart, cuBLAS, cuRAND) and put them on LD_LIBRARY_PATH`;
}

const NO_VULKAN_LOADER =
  "no WebGPU adapter: the Vulkan loader libvulkan.so.1 is not installed (Debian/Ubuntu: apt-get install libvulkan1) and a Vulkan driver is needed too (NVIDIA: the driver's Vulkan ICD; AMD/Intel: mesa-vulkan-drivers)";

function explainWebGpuFailure(message: string, vulkanLoader: boolean | undefined): string {
  if (vulkanLoader === false) return `${NO_VULKAN_LOADER} (${message})`;
  if (vulkanLoader === true) {
    return `no WebGPU adapter although the Vulkan loader is installed: install the GPU's Vulkan driver (ICD) or point VK_DRIVER_FILES at its JSON; in Docker add the graphics capability (NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics) (${message})`;
  }
  return `no WebGPU adapter (${message})`;
}

/** The first line of onnxruntime's message, without the source location and condition of a failed ORT_ENFORCE. */
function firstLine(text: string): string {
  const line = text.split('\n').find((candidate) => candidate.trim() !== '')?.trim() ?? text;
  return / was false\. (.+)$/.exec(line)?.[1] ?? line;
}

// --- probing the machine (file system only; the caller adds onnxruntime's backend list) -------

/** What fetches onnxruntime-node's CUDA provider: its own install script, which npm does not run for this project (package.json allowScripts). */
const CUDA_INSTALL_COMMAND = 'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install';

/** Where to turn on a host with CUDA 13, for which onnxruntime-node downloads no provider. */
const CUDA13_ROUTE =
  'on a CUDA 13 host, use onnxruntime-node 1.29.0 with the CUDA 13 provider libraries of the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (README, "Execution providers and GPUs")';

/** The CUDA provider's libraries that CUDA_INSTALL_COMMAND puts beside the binding. */
export const CUDA_PROVIDER_LIBRARIES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'] as const;

/** Where onnxruntime-node keeps its native binding and libraries for this platform. */
export function onnxruntimeBindingDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
}

const VULKAN_LOADER = 'libvulkan.so.1';
const SYSTEM_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];

/** Gathers the file-system half of the environment; `backends` comes from ort.listSupportedBackends(). */
export function probeProviderEnvironment(backends: readonly { name: string; bundled: boolean }[]): ProviderEnvironment {
  const bindingDir = onnxruntimeBindingDir();
  const cudaExpected = backends.some((backend) => backend.name === 'cuda');
  return {
    platform: `${process.platform}/${process.arch}`,
    backends,
    missingCudaLibraries: cudaExpected ? CUDA_PROVIDER_LIBRARIES.filter((file) => !existsSync(join(bindingDir, file))) : [],
    vulkanLoader: process.platform === 'linux' ? libraryOnPath(VULKAN_LOADER) : undefined,
    cudaProviderLoadError: () => dynamicLoaderError(join(bindingDir, CUDA_PROVIDER_LIBRARIES[0])),
  };
}

/**
 * Loads `library` as onnxruntime would and returns the loader's complaint about a missing
 * dependency or version. A library that loads fails here only for want of the symbols
 * onnxruntime provides to it (or for not being a Node addon), and that is no reason: undefined.
 */
export function dynamicLoaderError(library: string): string | undefined {
  try {
    process.dlopen({ exports: {} }, library, constants.dlopen.RTLD_LAZY);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/cannot open shared object file|version `[^']+' not found/.test(message)) return message;
  }
  return undefined;
}

function libraryOnPath(file: string): boolean {
  const fromEnvironment = (process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return [...fromEnvironment, ...SYSTEM_LIBRARY_DIRS].some((dir) => existsSync(join(dir, file)));
}
