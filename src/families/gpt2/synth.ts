import { type TensorToWrite, writeCheckpointDir } from '../../checkpoint/index.js';
import { SeededRandom } from '../../random.js';
import { GPT2_VOCAB_SIZE, type Gpt2Config, parseGpt2Config } from './config.js';
import { GPT2_PREFIX, LM_HEAD, gpt2TensorShapes } from './layout.js';

/** Target standard deviation of the logits, as for the synthetic MDLM. */
const LOGIT_STD = 3;

export const GPT2_SYNTH_PRESETS = {
  /** GPT-2's vocabulary around a network of a few thousand weights: for tests. */
  tiny: { vocab_size: GPT2_VOCAB_SIZE, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 2 },
  /** The exact shapes of gpt2, gpt2-medium, gpt2-large (the seed's evaluation model) and gpt2-xl. */
  small: { vocab_size: GPT2_VOCAB_SIZE, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 },
  medium: { vocab_size: GPT2_VOCAB_SIZE, n_positions: 1024, n_embd: 1024, n_layer: 24, n_head: 16 },
  large: { vocab_size: GPT2_VOCAB_SIZE, n_positions: 1024, n_embd: 1280, n_layer: 36, n_head: 20 },
  xl: { vocab_size: GPT2_VOCAB_SIZE, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 },
} as const;

export type Gpt2SynthPreset = keyof typeof GPT2_SYNTH_PRESETS;
export type Gpt2SynthShape = Pick<Gpt2Config, 'vocab_size' | 'n_positions' | 'n_embd' | 'n_layer' | 'n_head'>;

export interface Gpt2SynthOptions {
  outDir: string;
  shape: Gpt2SynthShape;
  seed: number;
  /** Store names as GPT2LMHeadModel does (`transformer.` + an explicit tied lm_head.weight) instead of GPT2Model's bare ones. */
  prefixed?: boolean;
}

/** The config.json of the hub's gpt2 uploads, field for field, with this shape; `<|endoftext|>` is the last id. */
export function gpt2SynthConfigJson(shape: Gpt2SynthShape): Record<string, unknown> {
  const endOfText = shape.vocab_size - 1;
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: endOfText,
    embd_pdrop: 0.1,
    eos_token_id: endOfText,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: shape.n_positions,
    ...shape,
    resid_pdrop: 0.1,
    torch_dtype: 'float32',
  };
}

/**
 * Writes a checkpoint directory with the names, shapes, dtype and files of a Hugging Face
 * GPT-2 upload (the `attn.bias` mask buffers included) and random weights scaled so that
 * every part of the network matters. No tokenizer: export it with GPT-2's (or the hub path
 * fetches gpt2's).
 */
export async function synthesizeGpt2Checkpoint(options: Gpt2SynthOptions): Promise<Gpt2Config> {
  const json = gpt2SynthConfigJson(options.shape);
  const config = parseGpt2Config(json, 'synthetic GPT-2 config');
  const random = SeededRandom.fromSeed(options.seed);
  const shapes = gpt2TensorShapes(config);
  // wte (the tied output layer, hence the logit scale) has a stream of its own: a tied
  // lm_head.weight, written before it in sorted order, is then drawn identically.
  const embedding = () => embeddingStream(options.seed).fillNormal(new Float32Array(config.vocab_size * config.n_embd), 0, LOGIT_STD / Math.sqrt(config.n_embd));
  const prefix = options.prefixed ? GPT2_PREFIX : '';
  const tensors: TensorToWrite[] = [...shapes]
    .filter(([name]) => name !== LM_HEAD)
    .map(([name, shape]) => ({ name: prefix + name, shape, values: name === 'wte.weight' ? embedding : () => drawTensor(name, shape, config, random) }));
  // The lower-triangular mask buffers the hub's gpt2 upload carries; readers ignore them.
  for (let i = 0; i < config.n_layer; i++) {
    tensors.push({ name: `${prefix}h.${i}.attn.bias`, shape: [1, 1, config.n_positions, config.n_positions], values: () => causalMask(config.n_positions) });
  }
  if (options.prefixed) tensors.push({ name: LM_HEAD, shape: [config.vocab_size, config.n_embd], values: embedding });
  await writeCheckpointDir(options.outDir, json, tensors);
  return config;
}

/**
 * Norm weights around 1 and biases around 0 (std 0.1); Conv1D weights [in, out] with std
 * 1/√in (variance-preserving); position embeddings of unit-scale rows; small biases.
 */
function drawTensor(name: string, shape: readonly number[], config: Gpt2Config, random: SeededRandom): Float32Array {
  const values = new Float32Array(shape.reduce((product, dim) => product * dim, 1));
  const norm = /ln_(?:\d+|f)\.(weight|bias)$/.exec(name);
  if (norm !== null) return random.fillNormal(values, norm[1] === 'weight' ? 1 : 0, 0.1);
  if (name === 'wpe.weight') return random.fillNormal(values, 0, 1 / Math.sqrt(config.n_embd));
  if (name.endsWith('.weight')) return random.fillNormal(values, 0, 1 / Math.sqrt(shape[0] as number));
  return random.fillNormal(values, 0, 0.02);
}

function embeddingStream(seed: number): SeededRandom {
  return SeededRandom.streams(seed, 2)[1] as SeededRandom;
}

function causalMask(length: number): Float32Array {
  const mask = new Float32Array(length * length);
  for (let q = 0; q < length; q++) mask.fill(1, q * length, q * length + q + 1);
  return mask;
}
