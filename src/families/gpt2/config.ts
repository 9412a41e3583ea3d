import { z } from 'zod';
import { configPath, parseConfig, positiveInt, readConfigJson } from '../../checkpoint/index.js';

/** GPT-2's byte-level BPE vocabulary; `<|endoftext|>` is its last id. */
export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_END_OF_TEXT_ID = 50256;

/**
 * The fields of a Hugging Face GPT-2 config.json that shape the network (spec §10). Options
 * that would change the computation away from GPT-2's (another activation, untied output
 * layer, attention scaled per layer, cross-attention) are refused rather than ignored.
 * Other fields (dropouts, summary_*, task_specific_params, ...) are kept but not interpreted.
 */
export const Gpt2ConfigSchema = z
  .looseObject({
    model_type: z.literal('gpt2'),
    vocab_size: positiveInt.min(2).max(1_048_576),
    /** The context: learned position embeddings exist for this many positions. */
    n_positions: positiveInt.max(131_072),
    n_embd: positiveInt.max(65_536),
    n_layer: positiveInt.max(1_024),
    n_head: positiveInt.max(1_024),
    /** MLP width; null or absent means 4·n_embd. */
    n_inner: positiveInt.max(262_144).nullish(),
    activation_function: z.literal('gelu_new', { error: 'only "gelu_new" (the tanh GELU every GPT-2 release uses) is supported' }).default('gelu_new'),
    layer_norm_epsilon: z.number().positive().max(0.1).default(1e-5),
    bos_token_id: z.number().int().nonnegative().default(GPT2_END_OF_TEXT_ID),
    eos_token_id: z.number().int().nonnegative().default(GPT2_END_OF_TEXT_ID),
    tie_word_embeddings: z.literal(true, { error: 'an untied output layer is not supported: GPT-2 ties lm_head to wte' }).default(true),
    scale_attn_weights: z.literal(true, { error: 'attention without the 1/√d scale is not GPT-2' }).default(true),
    scale_attn_by_inverse_layer_idx: z.literal(false, { error: 'attention scaled by the inverse layer index is not supported' }).default(false),
    add_cross_attention: z.literal(false, { error: 'cross-attention is not supported' }).default(false),
  })
  .superRefine((config, ctx) => {
    if (config.n_embd % config.n_head !== 0) {
      ctx.addIssue({ code: 'custom', path: ['n_head'], message: `n_embd ${config.n_embd} is not divisible by n_head ${config.n_head}` });
    }
    for (const field of ['bos_token_id', 'eos_token_id'] as const) {
      if (config[field] >= config.vocab_size) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${config[field]} is outside the vocabulary [0, ${config.vocab_size})` });
      }
    }
  });

export type Gpt2Config = z.infer<typeof Gpt2ConfigSchema>;

export function gpt2InnerWidth(config: Gpt2Config): number {
  return config.n_inner ?? 4 * config.n_embd;
}

export function gpt2HeadWidth(config: Gpt2Config): number {
  return config.n_embd / config.n_head;
}

export function parseGpt2Config(raw: unknown, source: string): Gpt2Config {
  return parseConfig(Gpt2ConfigSchema, raw, source);
}

export async function readGpt2Config(checkpointDir: string): Promise<Gpt2Config> {
  return parseGpt2Config(await readConfigJson(checkpointDir), configPath(checkpointDir));
}
