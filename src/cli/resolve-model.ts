import { type ResolvedModel, resolveModel } from '../hub/index.js';
import type { LightningWeights } from '../checkpoint/index.js';
import type { WeightDtype } from '../model/index.js';
import { progressBar } from './progress.js';

export interface CliModelOptions {
  dtype: WeightDtype;
  modelsDir?: string;
  weights?: LightningWeights;
  tokenizer?: string;
}

/** What --dtype says on every command that converts a model. */
export const DTYPE_HELP = 'export precision: fp32 (CPU default), int8 (CPU, faster, approximate: see the README) or fp16 (for GPUs)';

/** resolveModel with a download/conversion bar on stderr and its notices printed there. */
export async function resolveWithProgress(reference: string, options: CliModelOptions, label = 'preparing model'): Promise<ResolvedModel> {
  const bar = progressBar(label, 'MB');
  try {
    const resolved = await resolveModel(reference, {
      modelsDir: options.modelsDir,
      dtype: options.dtype,
      weights: options.weights,
      tokenizer: options.tokenizer,
      onProgress: (event) => bar.update(Math.round(event.done / 1e6), Math.round(event.total / 1e6)),
    });
    for (const notice of resolved.notices) process.stderr.write(`note: ${notice}\n`);
    return resolved;
  } finally {
    bar.stop();
  }
}
