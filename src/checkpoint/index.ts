export { CONFIG_FILE, Checkpoint, WEIGHTS_FILE, checkpointHash } from './checkpoint.js';
export {
  type MdlmConfig,
  MdlmConfigSchema,
  TIMESTEP_FEATURES,
  configPath,
  headWidth,
  parseConfig,
  parseMdlmConfig,
  positiveInt,
  readConfigJson,
  readMdlmConfig,
} from './config.js';
export { LoadedCheckpoint, NamedWeights } from './named-weights.js';
export { SafetensorsFile, type SafetensorsDtype, type TensorInfo } from './safetensors.js';
export type { TensorToWrite } from './safetensors-writer.js';
export { GPT2_MDLM_VOCAB_SIZE, SYNTH_PRESETS, type SynthPreset, type SynthShape, synthConfig, synthesizeCheckpoint, writeCheckpointDir } from './synth.js';
export { type TensorLayout, expectedTensorShapes } from './tensor-layout.js';
export {
  LIGHTNING_BACKBONES,
  LIGHTNING_EXTENSION,
  LIGHTNING_WEIGHTS,
  isLightningFile,
  LIGHTNING_PARAMETERIZATIONS,
  type LightningBackbone,
  LightningCheckpoint,
  type LightningOpenOptions,
  type LightningParameterization,
  type LightningWeights,
  type PlainObject,
  type PlainValue,
  backboneShapes,
} from './lightning/index.js';
