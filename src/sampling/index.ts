export { type CanvasLayout, type CanvasRequest, type SemiArParams, initialCanvas, layoutCanvas } from './canvas-layout.js';
export { FIRST_HITTING_SAMPLERS } from './first-hitting.js';
export { REMASKING_SAMPLERS, REMDM_DEFAULTS, type RemaskParams, type RemaskingSampler, maxEta, remaskLaw } from './remasking.js';
export { SequenceSampler } from './sequence-sampler.js';
export { seddScoreShift, seddUnmaskProbability } from './sedd.js';
export { TimeGrid, expectedForwardPasses, maskProbability, noiseRate, totalNoise } from './time-grid.js';
export {
  DEFAULT_EPS,
  LEFT_TO_RIGHT,
  type ModelFacts,
  type Procedure,
  SAMPLERS,
  type SamplerName,
  type SamplingParams,
  type StepEvent,
  applyStepEvent,
  isRemasking,
} from './types.js';
