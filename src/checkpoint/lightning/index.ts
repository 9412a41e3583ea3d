export { LIGHTNING_BACKBONES, LIGHTNING_PARAMETERIZATIONS, type LightningBackbone, type LightningParameterization } from './hyper-parameters.js';
export { backboneShapes } from './layout.js';
export { LIGHTNING_EXTENSION, LIGHTNING_WEIGHTS, LightningCheckpoint, isLightningFile, type LightningOpenOptions, type LightningWeights } from './lightning-checkpoint.js';
export type { PlainObject, PlainValue } from './plain.js';
