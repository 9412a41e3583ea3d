import { maskProbability, totalNoise } from '../diffusion/index.js';
import type { SeededRandom } from '../random.js';
import type { PassRow, RowResult } from '../runtime/index.js';
import { type KeyedRow, ScorerRows } from './scorer-rows.js';
import type { ItemScore, ScoreWindow } from './types.js';

/** The seed's training.sampling_eps: t never comes closer to 0, where the weight 1/t explodes. */
export const SAMPLING_EPS = 1e-3;

/**
 * Times for `count` Monte Carlo draws: t = ε + (1 − ε)·u. With antithetic sampling (the seed's
 * default) draw i takes u from its own stratum [i/n, (i + 1)/n), which lowers the variance of
 * the mean without biasing it.
 */
export function drawTimes(count: number, random: SeededRandom, antithetic: boolean): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => {
    const u = antithetic ? (random.uniform() + i) / count : random.uniform();
    return SAMPLING_EPS + (1 - SAMPLING_EPS) * u;
  });
}

/** What one masked position adds to a draw's loss at time t, from the model's distribution there. */
export type MaskedLoss = (t: number, entry: { logprob: number; logsumexp: number }) => number;

/** SUBS (spec §8): −log p_x0(x_l | z_t) weighted by σ'(t)/expm1(σ(t)), which is exactly 1/t on the log-linear schedule. */
export const subsLoss: MaskedLoss = (t, { logprob }) => -logprob / t;

/** What the NELBO estimator needs to know of the model: its mask, whether rows carry sigma, and its loss. */
export interface ElboModel {
  maskId: number;
  timeConditioned: boolean;
  loss: MaskedLoss;
}

/**
 * The seed's continuous-time NELBO estimator (spec §8) on one item. Draw i masks each scored
 * token independently with probability (1 − 1e-3)·t_i and adds each masked token's loss:
 * −log p_x0(x_l | z_t) / t_i for MDLM, the score entropy for SEDD. A draw that masks nothing
 * adds 0 and needs no pass. The estimate is the mean over draws.
 */
export class ElboScorer extends ScorerRows<number> {
  private readonly losses: Float64Array;
  private readonly shares: Float64Array;
  private nextDraw = 0;

  constructor(
    window: ScoreWindow,
    private readonly times: Float64Array,
    private readonly random: SeededRandom,
    private readonly model: ElboModel,
  ) {
    super(window);
    this.losses = new Float64Array(times.length);
    this.shares = new Float64Array(window.end - window.start);
  }

  protected nextRow(): KeyedRow<number> | undefined {
    while (this.nextDraw < this.times.length) {
      const draw = this.nextDraw++;
      const row = this.maskedRow(draw);
      if (row !== undefined) return { row, key: draw };
    }
    return undefined;
  }

  protected add(draw: number, row: PassRow, result: RowResult): void {
    const t = this.times[draw] as number;
    const positions = row.scores?.positions ?? new Int32Array(0);
    const count = this.times.length;
    positions.forEach((position, k) => {
      const loss = this.model.loss(t, { logprob: result.scores.logprobs[k] as number, logsumexp: result.scores.logsumexp[k] as number });
      this.losses[draw] = (this.losses[draw] as number) + loss;
      this.shares[position - this.window.start] = (this.shares[position - this.window.start] as number) + loss / count;
    });
  }

  result(): ItemScore {
    const count = this.losses.length;
    const mean = this.losses.reduce((sum, loss) => sum + loss, 0) / count;
    const variance = count < 2 ? Number.NaN : this.losses.reduce((sum, loss) => sum + (loss - mean) ** 2, 0) / (count - 1);
    return { nll: mean, tokenNll: this.shares, stderr: Math.sqrt(variance / count), forwardPasses: this.forwardPasses };
  }

  /** Draw i's masked window, or undefined when the draw masks nothing. */
  private maskedRow(draw: number): PassRow | undefined {
    const t = this.times[draw] as number;
    const chance = maskProbability(t);
    const masked: number[] = [];
    for (let position = this.window.start; position < this.window.end; position++) if (this.random.uniform() < chance) masked.push(position);
    if (masked.length === 0) return undefined;
    const tokens = this.window.tokens.slice();
    for (const position of masked) tokens[position] = this.model.maskId;
    return {
      tokens,
      sigma: this.model.timeConditioned ? totalNoise(t) : 0,
      scores: { positions: Int32Array.from(masked), targets: Int32Array.from(masked, (position) => this.window.tokens[position] as number) },
    };
  }
}
