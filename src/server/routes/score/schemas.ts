/** The shapes of POST /v1/score, the likelihood API. */
import { z } from 'zod';
import { ItemScoreSchema, count } from '../../../api/index.js';
import { SCORE_DEFAULTS } from '../../../generation/index.js';
import { SCORE_METHODS } from '../../../scoring/index.js';
import type { SchemaBounds } from '../../context.js';

const TokenIds = z.array(count()).min(1).describe('Token ids, as the model numbers them.');

const ItemSchema = z
  .strictObject({
    text: z.string().min(1).optional().describe('What is scored, as text.'),
    token_ids: TokenIds.optional().describe('What is scored, as token ids.'),
    context: z.union([z.string(), z.array(count())]).optional().describe('Text or token ids it is conditioned on: never masked, never scored.'),
  })
  .refine((item) => (item.text === undefined) !== (item.token_ids === undefined), { message: 'give exactly one of text and token_ids' });

export function scoreBodySchema(bounds: SchemaBounds) {
  const { maxScoreItems, maxMcSamples } = bounds.limits;
  const example = { items: [{ text: bounds.example.text }], mc_samples: 16, seed: 1 };
  return z.strictObject({
    model: z.string().optional().describe('A model id from GET /v1/models (optional: this server serves one).'),
    items: z.array(ItemSchema).min(1).max(maxScoreItems).describe(`The items to score (at most ${maxScoreItems}), each within the model's window of ${bounds.modelLength} tokens with its context.`),
    method: z.enum(SCORE_METHODS).optional().describe(`elbo: the seed's NELBO, an upper bound on −log p averaged over masking orders, estimated by Monte Carlo. ar: the exact left-to-right log-likelihood through the denoiser, one pass per token. Default ${SCORE_DEFAULTS.method}.`),
    mc_samples: count(1).max(maxMcSamples).optional().describe(`elbo: Monte Carlo draws of t per item (default ${SCORE_DEFAULTS.mcSamples}).`),
    seed: count().max(Number.MAX_SAFE_INTEGER).optional().describe('elbo: the same seed and request give the same estimate. Random when absent; the response says which was used.'),
    antithetic: z.boolean().optional().describe('elbo: stratify the draws of t, as the seed does (default true).'),
    antithetic_group: count(1)
      .optional()
      .describe(
        "elbo: how many consecutive items share one stratified set of draws, dealt out to them in turn (default 1: each item its own). The seed's ppl_eval stratifies across its eval batch: mdlm eval ppl --server sends its batch size.",
      ),
    add_special_tokens: z.boolean().optional().describe("Score after the tokenizer's BOS, as every training row begins (default true; no effect for tokenizers without one)."),
  }).meta({ example });
}

export const ScoreResponseSchema = z.object({
  id: z.string(),
  model: z.string(),
  method: z.enum(SCORE_METHODS),
  seed: count(),
  items: z.array(ItemScoreSchema),
  stats: z.object({ forward_passes: count(), wall_ms: z.number(), queued_ms: z.number() }),
}).meta({
  example: {
    id: 'score-8d1f3b5a-2e7c-4c90-a6b4-1f9e0d3c5a27',
    model: 'kuleshov-group/mdlm-owt',
    method: 'elbo',
    seed: 1,
    items: [{ index: 0, nll: 17.92, tokens: 4, nll_per_token: 4.48, perplexity: 88.23, bits_per_token: 6.46, stderr: 1.31, token_nll: [5.12, 4.07, 3.94, 4.79], token_ids: [464, 2068, 7586, 21831], forward_passes: 16 }],
    stats: { forward_passes: 16, wall_ms: 1523.4, queued_ms: 0.3 },
  },
});
export type ScoreResponse = z.output<typeof ScoreResponseSchema>;
