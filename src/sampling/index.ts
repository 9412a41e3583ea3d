export { canvasLayout, type CanvasLayout } from './canvas-layout.js';
export { SequenceSampler } from './sequence-sampler.js';
export { TimeGrid, expectedForwardPasses, totalNoise } from './time-grid.js';
export {
  DEFAULT_EPS,
  type ModelFacts,
  type PassRequest,
  SAMPLERS,
  type SamplerName,
  type SamplingParams,
  type SemiArParams,
  type StepEvent,
} from './types.js';
