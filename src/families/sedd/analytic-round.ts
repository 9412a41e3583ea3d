/**
 * SEDD's analytic sampler as the seed computes it (diffusion.py: `_analytic_update`,
 * `_denoiser_update`; spec §11), on the log scores of score.ts. The analytic step from σ_t to
 * σ_s gives token y the weight (e^{σ_t − σ_s} − 1)·score_y and the mask the rest, 1 minus
 * their sum. The seed draws from those weights by Gumbel argmax, where a negative weight
 * never wins: a masked position unmasks with probability min(1, (e^{dσ} − 1)·S), S the sum of
 * the scores, and then takes y ∝ exp(logit_y), the mask excluded. The final denoiser step
 * (dσ = σ) drops the mask's weight: every position still masked takes such a draw. Unmasked
 * positions never change.
 */
import { totalNoise } from '../../diffusion/index.js';
import type { SeededRandom } from '../../random.js';
import type { RowResult } from '../../runtime/index.js';
import { type PlannedStep, type RoundFactory, type RoundProcess, type TimeGrid, maskedPositions } from '../../sampling/index.js';
import { seddUnmaskProbability } from './score.js';

/** What the round reads of the sample's state. */
interface SeddState {
  canvas: Int32Array;
  maskId: number;
  vocabSize: number;
}

/**
 * One round of SEDD's analytic sampler over the positions masked when it began. Whether a
 * position unmasks depends on the model, so every step with something masked needs a pass,
 * with a draw at every masked position; the step's uniforms decide, after the pass, which
 * of those draws are kept. A step with nothing masked changes nothing and is skipped.
 */
class SeddAnalyticRound implements RoundProcess {
  private step = 0;
  private decisions = new Float64Array(0);

  constructor(
    private readonly grid: TimeGrid,
    private readonly active: readonly number[],
    private readonly random: SeededRandom,
    private readonly state: SeddState,
  ) {}

  next(): PlannedStep | undefined {
    const masked = this.active.filter((position) => this.state.canvas[position] === this.state.maskId);
    if (masked.length === 0 || this.step > this.grid.steps) return undefined;
    const step = this.step++;
    this.decisions = Float64Array.from(masked, () => this.random.uniform());
    return { step, positions: masked, remasked: [], needsPass: true, greedy: false, settled: true };
  }

  /** Which of the step's draws are kept: each with its unmasking probability; all of them at the denoiser step. */
  kept(planned: PlannedStep, draws: RowResult['draws']): boolean[] {
    if (planned.step === this.grid.steps) return planned.positions.map(() => true);
    const sigmaT = totalNoise(this.grid.time(planned.step));
    const sigmaS = totalNoise(this.grid.time(planned.step + 1));
    return planned.positions.map((_, k) => (this.decisions[k] as number) < seddUnmaskProbability(sigmaT, sigmaS, draws.logsumexp[k] as number, this.state.vocabSize));
  }
}

/** SEDD's analytic sampler over the positions of the window that are masked when the round begins. */
export const seddAnalyticRounds: RoundFactory = (start) => new SeddAnalyticRound(start.grid, maskedPositions(start), start.random, start);
