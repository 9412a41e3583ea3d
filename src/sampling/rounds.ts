import { FirstHittingRound, type FirstHittingSampler } from './first-hitting.js';
import { RemaskingRound, type RemaskingSampler } from './remasking.js';
import { RoundPlan } from './round-plan.js';
import { type RoundFactory, maskedPositions } from './round.js';
import type { SamplerName, SamplingParams } from './types.js';

const firstHitting =
  (sampler: FirstHittingSampler): RoundFactory =>
  (start) =>
    new FirstHittingRound(new RoundPlan(start.grid, maskedPositions(start), start.random), sampler);

const remasking =
  (sampler: RemaskingSampler): RoundFactory =>
  (start) => {
    if (start.params.remask === undefined) throw new Error(`${sampler} needs its remasking parameters`);
    return new RemaskingRound(start.grid, maskedPositions(start), sampler, start.params.remask, start.random, start);
  };

/** The samplers a request can name, and how each runs a round (spec §4, §9). */
export const SAMPLER_ROUNDS: Record<SamplerName, RoundFactory> = {
  ddpm: firstHitting('ddpm'),
  ddpm_cache: firstHitting('ddpm_cache'),
  analytic: firstHitting('analytic'),
  'remdm-cap': remasking('remdm-cap'),
  'remdm-rescale': remasking('remdm-rescale'),
  'remdm-loop': remasking('remdm-loop'),
  'remdm-conf': remasking('remdm-conf'),
};

/** The rounds a sample runs: its family's own for this sampler, else the table's. */
export function roundsOf(params: Pick<SamplingParams, 'sampler' | 'rounds'>): RoundFactory {
  if (params.rounds !== undefined) return params.rounds;
  if (!Object.hasOwn(SAMPLER_ROUNDS, params.sampler)) throw new Error(`no rounds for the sampler ${params.sampler}`);
  return SAMPLER_ROUNDS[params.sampler as SamplerName];
}
