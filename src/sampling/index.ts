export { type CanvasLayout, type CanvasRequest, type SemiArParams, initialCanvas, layoutCanvas } from './canvas-layout.js';
export { FIRST_HITTING_SAMPLERS } from './first-hitting.js';
export { REMASKING_SAMPLERS, REMDM_DEFAULTS, type RemaskParams, type RemaskingSampler, maxEta, remaskLaw } from './remasking.js';
export { type PlannedStep, type RoundFactory, type RoundProcess, type RoundStart, maskedPositions } from './round.js';
export { SAMPLER_ROUNDS } from './rounds.js';
export { type SampleSequence, SequenceSampler } from './sequence-sampler.js';
export { TimeGrid, expectedForwardPasses } from './time-grid.js';
export {
  DEFAULT_EPS,
  DEFAULT_SAMPLER,
  SAMPLERS,
  type SamplerName,
  type SamplingModel,
  type SamplingParams,
  type StepEvent,
  applyStepEvent,
  isRemasking,
} from './types.js';
