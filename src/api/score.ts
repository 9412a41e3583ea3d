/** A scored item as the API shows it: POST /v1/score's items and `mdlm score --json`. */
import { z } from 'zod';
import type { ScoredItem } from '../generation/index.js';
import { count } from './fields.js';

export const ItemScoreSchema = z.object({
  index: count(),
  nll: z.number().describe('Negative log-likelihood in nats over the scored tokens (elbo: the estimated upper bound).'),
  tokens: count().describe('Tokens scored.'),
  nll_per_token: z.number(),
  perplexity: z.number().describe('exp(nll_per_token).'),
  bits_per_token: z.number().describe('nll_per_token / ln 2.'),
  stderr: z.number().nullable().describe('elbo: standard error of nll (null for ar, and for elbo with one draw).'),
  token_nll: z.array(z.number()).describe("Each scored position's share of nll, in order; they sum to nll."),
  token_ids: z.array(count()).describe('The ids scored, in order (framing and context excluded).'),
  forward_passes: count(),
});
export type ItemScore = z.output<typeof ItemScoreSchema>;

export function itemScoreJson(item: ScoredItem, index: number): ItemScore {
  const tokens = item.tokenIds.length;
  const perToken = item.nll / tokens;
  return {
    index,
    nll: item.nll,
    tokens,
    nll_per_token: perToken,
    perplexity: Math.exp(perToken),
    bits_per_token: perToken / Math.LN2,
    stderr: item.stderr === undefined || Number.isNaN(item.stderr) ? null : item.stderr,
    token_nll: Array.from(item.tokenNll),
    token_ids: item.tokenIds,
    forward_passes: item.forwardPasses,
  };
}
