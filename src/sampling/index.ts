export { type CanvasLayout, type CanvasRequest, type SemiArParams, initialCanvas, layoutCanvas } from './canvas-layout.js';
export { SequenceSampler } from './sequence-sampler.js';
export { TimeGrid, expectedForwardPasses, maskProbability, totalNoise } from './time-grid.js';
export { DEFAULT_EPS, type ModelFacts, SAMPLERS, type SamplerName, type SamplingParams, type StepEvent, applyStepEvent } from './types.js';
