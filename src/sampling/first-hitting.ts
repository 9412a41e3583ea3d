import type { RoundPlan } from './round-plan.js';
import type { PlannedStep, RoundProcess } from './round.js';

export const FIRST_HITTING_SAMPLERS = ['ddpm', 'ddpm_cache', 'analytic'] as const;
export type FirstHittingSampler = (typeof FIRST_HITTING_SAMPLERS)[number];

/**
 * One round of the seed's predictors on the first-hitting plan (spec §4): `ddpm_cache` passes
 * only at the steps where something unmasks; `ddpm` and `analytic` pass at every step, as the
 * seed does. Noise removal (step T) takes the argmax, except for `analytic`, whose denoiser
 * step samples from p_x0 (spec §9).
 */
export class FirstHittingRound implements RoundProcess {
  private groupIndex = 0;
  private step = 0;

  constructor(
    private readonly plan: RoundPlan,
    private readonly sampler: FirstHittingSampler,
  ) {}

  next(): PlannedStep | undefined {
    const steps = this.plan.grid.steps;
    const group = this.plan.groups[this.groupIndex];
    if (this.sampler === 'ddpm_cache') {
      if (group === undefined) return undefined;
      this.groupIndex += 1;
      return this.planned(group.step, group.positions);
    }
    if (this.step > steps) return undefined;
    const step = this.step++;
    if (group?.step !== step) return this.planned(step, []);
    this.groupIndex += 1;
    return this.planned(step, group.positions);
  }

  private planned(step: number, positions: number[]): PlannedStep {
    const noiseRemoval = step === this.plan.grid.steps;
    return { step, positions, remasked: [], needsPass: true, greedy: noiseRemoval && this.sampler !== 'analytic', settled: true };
  }
}
