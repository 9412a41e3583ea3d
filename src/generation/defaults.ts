import { DEFAULT_SAMPLER } from '../sampling/index.js';

/** The paper's sampling settings (the seed's config): what a request gets when it says nothing. */
export const GENERATION_DEFAULTS = {
  steps: 1000,
  /** MDLM's; a family with samplers of its own has its own default (SEDD: analytic). */
  sampler: DEFAULT_SAMPLER,
  temperature: 1,
  topP: 1,
  topK: 0,
  numSamples: 1,
} as const;
