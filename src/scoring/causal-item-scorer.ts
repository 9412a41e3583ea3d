import type { PassRow, RowResult } from '../runtime/index.js';
import { type KeyedRow, ScorerRows } from './scorer-rows.js';
import type { ItemScore, ScoreWindow } from './types.js';

/**
 * The exact log-likelihood of an item under a causal model (the AR baseline), in one pass:
 * the window as it is, scored at every position before a scored token, since a causal
 * model's entry at p is the distribution of the token at p + 1 given those up to p. Each
 * token needs one before it, so a window's scored span starts at 1 or later.
 */
export class CausalItemScorer extends ScorerRows<'item'> {
  private made = false;
  private score: ItemScore | undefined;

  constructor(window: ScoreWindow) {
    if (window.start < 1) throw new Error('a causal model scores a token given the ones before it: the scored span must start at 1 or later');
    super(window);
  }

  protected nextRow(): KeyedRow<'item'> | undefined {
    if (this.made) return undefined;
    this.made = true;
    const { tokens, start, end } = this.window;
    const positions = Int32Array.from({ length: end - start }, (_, i) => start - 1 + i);
    return { row: { tokens, sigma: 0, scores: { positions, targets: tokens.slice(start, end) } }, key: 'item' };
  }

  protected add(_key: 'item', _row: PassRow, result: RowResult): void {
    const tokenNll = Float64Array.from(result.scores.logprobs, (logprob) => -logprob);
    const { topTokens, topLogprobs, topWidth } = result.scores;
    this.score = {
      nll: tokenNll.reduce((sum, value) => sum + value, 0),
      tokenNll,
      stderr: undefined,
      forwardPasses: this.forwardPasses,
      alternatives: { tokens: topTokens, logprobs: topLogprobs, width: topWidth },
    };
  }

  result(): ItemScore {
    if (this.score === undefined) throw new Error('result() before the pass returned');
    return this.score;
  }
}
