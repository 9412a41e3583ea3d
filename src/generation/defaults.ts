import type { SamplerName } from '../sampling/index.js';

/** The paper's sampling settings (the seed's config): what a request gets when it says nothing. */
export const GENERATION_DEFAULTS = {
  steps: 1000,
  sampler: 'ddpm_cache' as SamplerName,
  temperature: 1,
  topP: 1,
  topK: 0,
  numSamples: 1,
} as const;
