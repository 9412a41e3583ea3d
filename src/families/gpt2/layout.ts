import type { TensorLayout } from '../../checkpoint/index.js';
import { type Gpt2Config, gpt2InnerWidth } from './config.js';

/** Some uploads store GPT2LMHeadModel's names (`transformer.h.0...`), others GPT2Model's (`h.0...`). */
export const GPT2_PREFIX = 'transformer.';

/** The output layer, tied to wte; a checkpoint may store it a second time. */
export const LM_HEAD = 'lm_head.weight';

/** The causal-mask buffers `attn.bias` and `attn.masked_bias`: constants, derivable from the config. */
const MASK_BUFFER = /^h\.\d+\.attn\.(?:bias|masked_bias)$/;

/**
 * Canonical name (no prefix) → shape of every GPT-2 tensor (spec §10). The Conv1D weights
 * are stored [in, out], the transpose of a PyTorch Linear.
 */
export function gpt2TensorShapes(config: Gpt2Config): Map<string, number[]> {
  const { vocab_size: V, n_positions: P, n_embd: D, n_layer: layers } = config;
  const inner = gpt2InnerWidth(config);
  const shapes = new Map<string, number[]>([
    ['wte.weight', [V, D]],
    ['wpe.weight', [P, D]],
  ]);
  for (let i = 0; i < layers; i++) {
    const layer = `h.${i}`;
    shapes.set(`${layer}.ln_1.weight`, [D]);
    shapes.set(`${layer}.ln_1.bias`, [D]);
    shapes.set(`${layer}.attn.c_attn.weight`, [D, 3 * D]);
    shapes.set(`${layer}.attn.c_attn.bias`, [3 * D]);
    shapes.set(`${layer}.attn.c_proj.weight`, [D, D]);
    shapes.set(`${layer}.attn.c_proj.bias`, [D]);
    shapes.set(`${layer}.ln_2.weight`, [D]);
    shapes.set(`${layer}.ln_2.bias`, [D]);
    shapes.set(`${layer}.mlp.c_fc.weight`, [D, inner]);
    shapes.set(`${layer}.mlp.c_fc.bias`, [inner]);
    shapes.set(`${layer}.mlp.c_proj.weight`, [inner, D]);
    shapes.set(`${layer}.mlp.c_proj.bias`, [D]);
  }
  shapes.set('ln_f.weight', [D]);
  shapes.set('ln_f.bias', [D]);
  shapes.set(LM_HEAD, [V, D]);
  return shapes;
}

/** Names with or without `transformer.`; a missing tensor is named the way the file names the others. */
export function gpt2Layout(config: Gpt2Config): TensorLayout {
  return {
    shapes: gpt2TensorShapes(config),
    optional: new Set([LM_HEAD]),
    naming: {
      canonical: (stored) => {
        const name = stored.startsWith(GPT2_PREFIX) ? stored.slice(GPT2_PREFIX.length) : stored;
        return MASK_BUFFER.test(name) ? undefined : name;
      },
      missing: (canonical, stored) => {
        const prefixed = canonical !== LM_HEAD && [...stored.keys()].some((name) => name.startsWith(GPT2_PREFIX));
        return prefixed ? GPT2_PREFIX + canonical : canonical;
      },
    },
  };
}
