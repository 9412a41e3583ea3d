import { join } from 'node:path';
import { LoadedCheckpoint, NamedWeights, WEIGHTS_FILE } from '../../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { type Gpt2Config, readGpt2Config } from './config.js';
import { LM_HEAD, gpt2Layout } from './layout.js';

/**
 * A validated Hugging Face GPT-2 checkpoint directory (config.json + model.safetensors), read
 * one tensor at a time by canonical name (without the `transformer.` prefix). An explicit
 * lm_head.weight is accepted only when it is wte itself: the export ties the two.
 */
export class Gpt2Checkpoint extends LoadedCheckpoint<Gpt2Config> {
  static async open(dir: string): Promise<Gpt2Checkpoint> {
    const config = await readGpt2Config(dir);
    const path = join(dir, WEIGHTS_FILE);
    const weights = NamedWeights.open(path, gpt2Layout(config), 'its config.json');
    try {
      if (weights.has(LM_HEAD)) assertTied(weights, path);
    } catch (error) {
      weights.close();
      throw error;
    }
    return new Gpt2Checkpoint(dir, config, weights);
  }
}

function assertTied(weights: NamedWeights, path: string): void {
  const head = weights.weight(LM_HEAD);
  const embedding = weights.weight('wte.weight');
  let differing = 0;
  let largest = 0;
  head.forEach((value, i) => {
    const difference = Math.abs(value - (embedding[i] as number));
    if (difference > 0) differing += 1;
    largest = Math.max(largest, difference);
  });
  if (differing > 0) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `${path}: ${weights.storedName(LM_HEAD)} differs from ${weights.storedName('wte.weight')} at ${differing} of ${head.length} entries (largest difference ${largest}); GPT-2 ties its output layer to the token embedding, and only the tied form can be exported`,
    );
  }
}
