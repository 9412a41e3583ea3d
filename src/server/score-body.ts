/** The JSON of a scored item, shared by POST /v1/score and mdlm score --json (which must not load the server to print it). */
import type { ScoredItem } from '../generation/index.js';
import type { ScoreResponse } from './score-schemas.js';

/** One scored item in the API's shape (the CLI's mdlm score --json shares it). */
export function itemScoreJson(item: ScoredItem, index: number): ScoreResponse['items'][number] {
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
