import { z } from 'zod';

export const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];
export type ExecutionProvider = Exclude<Device, 'auto'>;

/** Provider options a deployment may set without code changes (`--provider-options` / MDLM_PROVIDER_OPTIONS). */
export const ProviderOptionsSchema = z
  .object({
    cuda: z
      .object({
        deviceId: z.number().int().nonnegative().optional(),
        arenaExtendStrategy: z.enum(['kNextPowerOfTwo', 'kSameAsRequested']).optional(),
        gpuMemLimit: z.number().int().positive().optional(),
        cudnnConvAlgoSearch: z.enum(['EXHAUSTIVE', 'HEURISTIC', 'DEFAULT']).optional(),
        doCopyInDefaultStream: z.boolean().optional(),
      })
      .strict()
      .default({}),
    webgpu: z
      .object({ preferredLayout: z.enum(['NCHW', 'NHWC']).optional(), deviceId: z.number().int().nonnegative().optional() })
      .strict()
      .default({}),
  })
  .strict();
export type ProviderOptions = z.infer<typeof ProviderOptionsSchema>;

/** The order `auto` tries providers in: fastest first, the CPU always last and always there. */
export function candidateProviders(device: Device): ExecutionProvider[] {
  return device === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [device];
}

/** What onnxruntime-node's session options take for `provider`. */
export function executionProviderConfig(provider: ExecutionProvider, options: ProviderOptions): object {
  if (provider === 'cuda') return { name: 'cuda', ...options.cuda };
  if (provider === 'webgpu') return { name: 'webgpu', ...options.webgpu };
  return { name: 'cpu' };
}

export interface ProviderAttempt {
  provider: ExecutionProvider;
  /** Why it could not be used, with what to do about it. */
  reason: string;
}

/** Turns onnxruntime's failure into a reason a user can act on. */
export function explainProviderFailure(provider: ExecutionProvider, error: unknown, bundled: boolean): string {
  const message = error instanceof Error ? error.message : String(error);
  if (provider === 'cuda' && !bundled) {
    return 'onnxruntime-node was installed without its CUDA binaries; reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci (needs network access to NuGet, CUDA 12 and cuDNN 9)';
  }
  if (provider === 'cuda' && /libcu|cudnn|CUDA driver|cudaError|no CUDA-capable device/i.test(message)) {
    return `the CUDA provider could not start (${firstLine(message)}); check the NVIDIA driver and that CUDA 12 and cuDNN 9 libraries are on the library path`;
  }
  if (provider === 'webgpu') {
    return `no usable WebGPU adapter (${firstLine(message)}); on Linux WebGPU needs a Vulkan driver and loader (libvulkan1)`;
  }
  return firstLine(message);
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}
