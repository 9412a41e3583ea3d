/** What the one-off commands share: the model flags, and a service opened on the resolved model with progress on stderr. */
import { type Command, Option } from 'commander';
import { envVarOf } from './options.js';
import { z } from 'zod';
import { LIGHTNING_WEIGHTS } from '../checkpoint/index.js';
import { GenerationService } from '../generation/index.js';
import { DEFAULT_MODEL, modelIdOf } from '../hub/index.js';
import { DEVICES, ProviderOptionsSchema } from '../runtime/index.js';
import { DEFAULT_BATCH_ENTRIES } from '../scheduler/index.js';
import { DTYPE_HELP, resolveWithProgress } from './resolve-model.js';
import { WEIGHT_DTYPES } from '../model/index.js';

export const ModelFlags = z.object({
  model: z.string().min(1),
  device: z.enum(DEVICES),
  dtype: z.enum(WEIGHT_DTYPES),
  modelsDir: z.string().optional(),
  weights: z.enum(LIGHTNING_WEIGHTS).optional(),
  tokenizer: z.string().min(1).optional(),
});
export type ModelChoice = z.infer<typeof ModelFlags>;

/**
 * --model, --device, --dtype, --models-dir, --weights and --tokenizer, as every one-off command
 * has them, each also read from its MDLM_ variable as `serve` does; `device: false` leaves
 * --device out, for a command that runs no model.
 */
export function addModelOptions(command: Command, { device = true } = {}): Command {
  const flag = (flags: string, description: string, fallback?: string) => {
    const option = new Option(flags, description).env(envVarOf(flags.split(' ')[0]?.slice(2) ?? ''));
    return fallback === undefined ? option : option.default(fallback);
  };
  command.addOption(flag('--model <ref>', 'hub id (owner/name[@revision]), checkpoint directory, Lightning .ckpt file or exported model directory', DEFAULT_MODEL));
  if (device) command.addOption(flag('--device <device>', `${DEVICES.join(', ')}`, 'auto'));
  return command
    .addOption(flag('--dtype <dtype>', DTYPE_HELP, 'fp32'))
    .addOption(flag('--models-dir <dir>', 'conversion cache directory (default: ./models)'))
    .addOption(flag('--weights <weights>', `a .ckpt's weights: ${LIGHTNING_WEIGHTS.join(' or ')} (default ema, what the seed samples and evaluates with)`))
    .addOption(flag('--tokenizer <dir>', 'tokenizer.json + tokenizer_config.json to convert a checkpoint with (default: its own, else the one it names)'));
}

/** Resolves the model (download and conversion with a progress bar) and opens one worker on it. */
export async function openModelService({ model, device, dtype, modelsDir, weights, tokenizer }: ModelChoice, capacity: { maxBatch: number; maxQueue: number }): Promise<{ service: GenerationService; modelId: string }> {
  const resolved = await resolveWithProgress(model, { modelsDir, dtype, weights, tokenizer });
  const service = await GenerationService.open({
    exportDir: resolved.exportDir,
    device,
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    scheduler: { ...capacity, maxBatchEntries: DEFAULT_BATCH_ENTRIES, batchWaitMs: 0 },
  });
  return { service, modelId: modelIdOf(resolved) };
}
