/**
 * ReMDM (Wang et al. 2025; spec §9): remasking samplers for the same MDLM weights. At each
 * step from t to s = t − Δ every active position's fate is drawn first, and only its token
 * needs the model: an unmasked token goes back to the mask with probability σ, a masked
 * position takes a token from p_x0 with probability (α_s − (1 − σ)·α_t)/(1 − α_t). A pass is
 * therefore needed only at steps where something unmasks, and only for those positions.
 */
import type { SeededRandom } from '../random.js';
import type { PlannedStep, RoundProcess } from './round.js';
import type { TimeGrid } from './time-grid.js';

export const REMASKING_SAMPLERS = ['remdm-cap', 'remdm-rescale', 'remdm-loop', 'remdm-conf'] as const;
export type RemaskingSampler = (typeof REMASKING_SAMPLERS)[number];

export interface RemaskParams {
  /** The remasking rate's scale (cap, rescale, loop); remdm-conf takes σ_max itself. */
  eta: number;
  /** remdm-loop: the loop phase runs for t_off < t ≤ t_on at α = α_on. */
  tOn: number;
  tOff: number;
  alphaOn: number;
}

/** The paper's settings (the ReMDM repository's OWT configs). */
export const REMDM_DEFAULTS = {
  eta: { 'remdm-cap': 0.008, 'remdm-rescale': 0.015, 'remdm-loop': 0.02, 'remdm-conf': 0 } satisfies Record<RemaskingSampler, number>,
  tOn: 0.55,
  tOff: 0.05,
  alphaOn: 0.9,
} as const;

/** The largest η for which every probability of the sampler's steps stays in [0, 1]. */
export function maxEta(sampler: RemaskingSampler, alphaOn: number): number {
  if (sampler === 'remdm-loop') return (1 - alphaOn) / alphaOn;
  return sampler === 'remdm-conf' ? 0 : 1;
}

/** One step's law: the remasking rate of an unmasked token (per position for conf) and the unmasking probability of a masked one. */
export interface RemaskLaw {
  /** σ for every unmasked position, or σ_max to share out by confidence (conf). */
  sigma: number;
  byConfidence: boolean;
  /** Probability that a masked position takes a token at this step. */
  unmask: number;
  /** No token unmasked so far can go back to the mask at this step or later ones in the round. */
  settled: boolean;
}

const clamp = (p: number) => Math.min(1, Math.max(0, p));

/** Spec §9's step from t to s for `sampler`; α = 1 − t except in remdm-loop's phases. */
export function remaskLaw(sampler: RemaskingSampler, params: RemaskParams, t: number, s: number, lastStep: boolean): RemaskLaw {
  if (sampler === 'remdm-loop') return loopLaw(params, t, s);
  const alphaT = 1 - t;
  const alphaS = 1 - s;
  const sigmaMax = alphaT > 0 ? Math.min(1, (1 - alphaS) / alphaT) : 1;
  const sigma = sampler === 'remdm-cap' ? (alphaT > 0 ? Math.min(params.eta, (1 - alphaS) / alphaT) : params.eta) : sampler === 'remdm-rescale' ? params.eta * sigmaMax : sigmaMax;
  const byConfidence = sampler === 'remdm-conf';
  // conf gives a masked position σ = 0: the plain MDLM step for it.
  const unmaskSigma = byConfidence ? 0 : sigma;
  return { sigma, byConfidence, unmask: clamp((alphaS - (1 - unmaskSigma) * alphaT) / (1 - alphaT)), settled: lastStep };
}

/**
 * remdm-loop: for t > t_on the MDLM step on α rising from 0 to α_on over (t_on, 1]; for
 * t_off < t ≤ t_on α stays α_on and tokens remask at σ = η; for t ≤ t_off the MDLM step on α
 * rising from α_on to 1 over (0, t_off]. A step crossing t_on is clamped to it.
 */
function loopLaw({ eta, tOn, tOff, alphaOn }: RemaskParams, t: number, s: number): RemaskLaw {
  if (t > tOn) {
    const alpha = (time: number) => Math.min(alphaOn, ((1 - time) * alphaOn) / (1 - tOn));
    const [alphaT, alphaS] = [alpha(t), alpha(s)];
    return { sigma: 0, byConfidence: false, unmask: clamp((alphaS - alphaT) / (1 - alphaT)), settled: false };
  }
  if (t > tOff) return { sigma: eta, byConfidence: false, unmask: clamp((eta * alphaOn) / (1 - alphaOn)), settled: false };
  return { sigma: 0, byConfidence: false, unmask: clamp((t - s) / t), settled: true };
}

/** What a remasking round reads of the sample's state. */
export interface RemaskState {
  canvas: Int32Array;
  maskId: number;
  /** The probability each position's token was drawn with (remdm-conf's confidence). */
  confidence: Float64Array;
}

/** One round of a remasking sampler over the positions that were masked when it began. */
export class RemaskingRound implements RoundProcess {
  private step = 0;
  private done = false;

  constructor(
    private readonly grid: TimeGrid,
    private readonly active: readonly number[],
    private readonly sampler: RemaskingSampler,
    private readonly params: RemaskParams,
    private readonly random: SeededRandom,
    private readonly state: RemaskState,
  ) {}

  /** The next step that changes something, with every fate drawn; undefined when the round is over. */
  next(): PlannedStep | undefined {
    while (this.step < this.grid.steps) {
      const step = this.step++;
      const law = remaskLaw(this.sampler, this.params, this.grid.time(step), this.grid.time(step + 1), step === this.grid.steps - 1);
      const planned = this.fates(step, law);
      if (planned.positions.length > 0 || planned.remasked.length > 0) return planned;
    }
    if (this.done) return undefined;
    this.done = true;
    const left = this.active.filter((position) => this.state.canvas[position] === this.state.maskId);
    return left.length === 0 ? undefined : { step: this.grid.steps, positions: left, remasked: [], needsPass: true, greedy: true, settled: true };
  }

  private fates(step: number, law: RemaskLaw): PlannedStep {
    const { canvas, maskId } = this.state;
    const shares = law.byConfidence ? this.confidenceShares() : undefined;
    const positions: number[] = [];
    const remasked: number[] = [];
    for (const position of this.active) {
      const u = this.random.uniform();
      if (canvas[position] === maskId) {
        if (u < law.unmask) positions.push(position);
      } else if (u < law.sigma * (shares?.get(position) ?? 1)) {
        remasked.push(position);
      }
    }
    return { step, positions, remasked, needsPass: positions.length > 0, greedy: false, settled: law.settled };
  }

  /** remdm-conf: softmax over the unmasked active positions of minus the probability each was drawn with, the most doubtful first. */
  private confidenceShares(): Map<number, number> {
    const unmasked = this.active.filter((position) => this.state.canvas[position] !== this.state.maskId);
    const weights = unmasked.map((position) => Math.exp(-(this.state.confidence[position] as number)));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return new Map(unmasked.map((position, k) => [position, (weights[k] as number) / total]));
  }
}
