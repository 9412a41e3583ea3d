import type { PassRow, RowResult } from '../runtime/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { ItemScore, ScoreWindow } from './types.js';

/**
 * The exact log-likelihood of an item under a causal model (the AR baseline), in one pass:
 * the window as it is, scored at every position before a scored token, since a causal
 * model's entry at p is the distribution of the token at p + 1 given those up to p. Each
 * token needs one before it, so a window's scored span starts at 1 or later.
 */
export class CausalItemScorer implements Sequence {
  forwardPasses = 0;
  private pending: PassRow | undefined;
  private inFlight: PassRow | undefined;
  private score: ItemScore | undefined;

  constructor(private readonly window: ScoreWindow) {
    if (window.start < 1) throw new Error('a causal model scores a token given the ones before it: the scored span must start at 1 or later');
    const positions = Int32Array.from({ length: window.end - window.start }, (_, i) => window.start - 1 + i);
    this.pending = { tokens: window.tokens, sigma: 0, scores: { positions, targets: window.tokens.slice(window.start, window.end) } };
  }

  get windowLength(): number {
    return this.window.tokens.length;
  }

  get finished(): boolean {
    return this.score !== undefined;
  }

  peekRow(): PassRow | undefined {
    return this.pending;
  }

  takeRow(): PassRow {
    const row = this.pending;
    if (row === undefined) throw new Error('takeRow() without a ready row');
    this.pending = undefined;
    this.inFlight = row;
    return row;
  }

  apply(row: PassRow, result: RowResult): void {
    if (row !== this.inFlight) throw new Error('apply() for a row this scorer did not give');
    this.inFlight = undefined;
    this.forwardPasses += 1;
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
