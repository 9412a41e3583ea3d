import type { PassRow, RowResult } from '../runtime/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { ItemScore, ScoreWindow } from './types.js';

/**
 * The left-to-right conditionals log p(x_i | x_<i) through the denoiser (spec §8): for each
 * scored position i, one row with x_<i as it is and every position from i to the end of the
 * window masked, scored at i alone. Exact and deterministic; one pass per scored token, each
 * needing the output layer at one row only. The rows are independent, so they all batch.
 */
export class ArScorer implements Sequence {
  forwardPasses = 0;
  private readonly nll: Float64Array;
  private alternatives: ItemScore['alternatives'];
  private readonly positionOf = new Map<PassRow, number>();
  private nextPosition: number;
  private pending: PassRow | undefined;

  constructor(
    private readonly window: ScoreWindow,
    private readonly maskId: number,
  ) {
    this.nll = new Float64Array(window.end - window.start);
    this.nextPosition = window.start;
  }

  get windowLength(): number {
    return this.window.tokens.length;
  }

  get finished(): boolean {
    return this.nextPosition === this.window.end && this.pending === undefined && this.positionOf.size === 0;
  }

  peekRow(): PassRow | undefined {
    if (this.pending === undefined && this.nextPosition < this.window.end) this.pending = this.conditionalRow(this.nextPosition++);
    return this.pending;
  }

  takeRow(): PassRow {
    const row = this.peekRow();
    if (row === undefined) throw new Error('takeRow() without a ready row');
    this.pending = undefined;
    return row;
  }

  apply(row: PassRow, result: RowResult): void {
    const position = this.positionOf.get(row);
    if (position === undefined) throw new Error('apply() for a row this scorer did not give');
    this.positionOf.delete(row);
    this.forwardPasses += 1;
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
    const row: PassRow = { tokens, sigma: 0, scores: { positions: Int32Array.of(position), targets: Int32Array.of(this.window.tokens[position] as number) } };
    this.positionOf.set(row, position);
    return row;
  }
}
