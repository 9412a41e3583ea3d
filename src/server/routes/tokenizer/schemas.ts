/** The tokenizer routes in vLLM's shapes, which lm-evaluation-harness probes for a remote tokenizer. */
import { z } from 'zod';
import { count } from '../../../api/index.js';

export const TokenizerInfoSchema = z.object({
  tokenizer_class: z.string().nullable(),
  bos_token: z.string().nullable(),
  eos_token: z.string().nullable(),
  pad_token: z.string().nullable(),
  unk_token: z.string().nullable(),
  mask_token: z.string().nullable().describe("The diffusion mask token (it may not be one of the tokenizer's own)."),
  mask_token_id: count(),
  vocab_size: count(),
  model_max_length: count().describe("The model's window."),
  max_model_len: count(),
}).meta({ example: { tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', pad_token: null, unk_token: '<|endoftext|>', mask_token: null, mask_token_id: 50257, vocab_size: 50258, model_max_length: 1024, max_model_len: 1024 } });

export const TokenizeBodySchema = z.strictObject({
  model: z.string().optional(),
  prompt: z.string(),
  add_special_tokens: z.boolean().default(true).describe("Prepend the tokenizer's BOS, as the server frames what it generates and scores."),
});

export const TokenizeResponseSchema = z.object({ tokens: z.array(count()), count: count(), max_model_len: count() }).meta({ example: { tokens: [50256, 464, 2068, 7586, 21831], count: 5, max_model_len: 1024 } });

export const DetokenizeBodySchema = z.strictObject({ model: z.string().optional(), tokens: z.array(count()) });
export const DetokenizeResponseSchema = z.object({ prompt: z.string() }).meta({ example: { prompt: 'The quick brown fox' } });
