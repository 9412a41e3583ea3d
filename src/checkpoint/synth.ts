import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '../random.js';
import { buildWordLevelTokenizer } from '../tokenizer/index.js';
import { writeDirAtomically } from '../util/atomic.js';
import { CONFIG_FILE, WEIGHTS_FILE } from './checkpoint.js';
import { type MdlmConfig, parseMdlmConfig } from './config.js';
import { safetensorsTensorList } from './synth-weights.js';
import { type TensorToWrite, writeSafetensorsF32 } from './safetensors-writer.js';

/** GPT-2's 50257 tokens plus the mask: a checkpoint of this vocabulary uses GPT-2's tokenizer, as mdlm-owt does. */
export const GPT2_MDLM_VOCAB_SIZE = 50258;

export const SYNTH_PRESETS = {
  /** The exact shape of kuleshov-group/mdlm-owt. */
  owt: { vocab_size: GPT2_MDLM_VOCAB_SIZE, model_length: 1024, hidden_dim: 768, cond_dim: 128, n_blocks: 12, n_heads: 12, time_conditioning: false },
  /** GPT-2 vocabulary, a narrow network: end-to-end text on a CPU in seconds. */
  small: { vocab_size: GPT2_MDLM_VOCAB_SIZE, model_length: 256, hidden_dim: 256, cond_dim: 64, n_blocks: 4, n_heads: 4, time_conditioning: false },
  /** A word-level vocabulary and a few thousand parameters: for tests. */
  tiny: { vocab_size: 64, model_length: 32, hidden_dim: 32, cond_dim: 16, n_blocks: 2, n_heads: 2, time_conditioning: false },
} as const;

export type SynthPreset = keyof typeof SYNTH_PRESETS;

export type SynthShape = Pick<MdlmConfig, 'vocab_size' | 'model_length' | 'hidden_dim' | 'cond_dim' | 'n_blocks' | 'n_heads' | 'time_conditioning'>;

export interface SynthOptions {
  outDir: string;
  shape: SynthShape;
  seed: number;
}

/** The config.json of mdlm-owt, field for field, with this shape. */
export function synthConfig(shape: SynthShape): MdlmConfig {
  return parseMdlmConfig(
    {
      architectures: ['MDLM'],
      model_type: 'mdlm',
      ...shape,
      dropout: 0.1,
      return_dict: false,
      torch_dtype: 'float32',
    },
    'synthetic config',
  );
}

/**
 * Writes a checkpoint directory with the names, shapes, dtype and file layout of
 * kuleshov-group/mdlm-owt and random weights scaled so that every part of the network
 * changes the output. A non-GPT-2 vocabulary gets a word-level tokenizer of its own.
 */
export async function synthesizeCheckpoint(options: SynthOptions): Promise<MdlmConfig> {
  const config = synthConfig(options.shape);
  const random = SeededRandom.fromSeed(options.seed);
  await writeCheckpointDir(options.outDir, config, safetensorsTensorList(config, random), async (dir) => {
    if (config.vocab_size === GPT2_MDLM_VOCAB_SIZE) return;
    const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(config.vocab_size);
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
  });
  return config;
}

/** A Hugging Face checkpoint directory (config.json + model.safetensors, plus what `more` adds), written atomically. */
export async function writeCheckpointDir(outDir: string, config: object, tensors: TensorToWrite[], more: (dir: string) => Promise<void> = async () => undefined): Promise<void> {
  await writeDirAtomically(outDir, async (dir) => {
    await writeFile(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    writeSafetensorsF32(join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
    await more(dir);
  });
}
