import type { PassRow, RowResult } from '../runtime/index.js';
import { type KeyedRow, ScorerRows } from './scorer-rows.js';
import type { ItemScore, ScoreWindow } from './types.js';

/**
 * The left-to-right conditionals log p(x_i | x_<i) through the denoiser (spec §8): for each
 * scored position i, one row with x_<i as it is and every position from i to the end of the
 * window masked, scored at i alone. Exact and deterministic; one pass per scored token, each
 * needing the output layer at one row only. The rows are independent, so they all batch.
 */
export class ArScorer extends ScorerRows<number> {
  private readonly nll: Float64Array;
  private alternatives: ItemScore['alternatives'];
  private nextPosition: number;

  constructor(
    window: ScoreWindow,
    private readonly maskId: number,
  ) {
    super(window);
    this.nll = new Float64Array(window.end - window.start);
    this.nextPosition = window.start;
  }

  protected nextRow(): KeyedRow<number> | undefined {
    if (this.nextPosition === this.window.end) return undefined;
    const position = this.nextPosition++;
    return { row: this.conditionalRow(position), key: position };
  }

  protected add(position: number, _row: PassRow, result: RowResult): void {
    const index = position - this.window.start;
    this.nll[index] = -(result.scores.logprobs[0] as number);
    const { topTokens, topLogprobs, topWidth } = result.scores;
    this.alternatives ??= { tokens: new Int32Array(this.nll.length * topWidth), logprobs: new Float32Array(this.nll.length * topWidth), width: topWidth };
    this.alternatives.tokens.set(topTokens.subarray(0, topWidth), index * topWidth);
    this.alternatives.logprobs.set(topLogprobs.subarray(0, topWidth), index * topWidth);
  }

  result(): ItemScore {
    const nll = this.nll.reduce((sum, value) => sum + value, 0);
    return { nll, tokenNll: this.nll, stderr: undefined, forwardPasses: this.forwardPasses, alternatives: this.alternatives };
  }

  private conditionalRow(position: number): PassRow {
    const tokens = this.window.tokens.slice();
    tokens.fill(this.maskId, position);
    return { tokens, sigma: 0, scores: { positions: Int32Array.of(position), targets: Int32Array.of(this.window.tokens[position] as number) } };
  }
}
