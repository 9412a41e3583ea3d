export { ARCHITECTURES, type Architecture, checkpointArchitecture } from './architecture.js';
export { CONFIG_FILE, Checkpoint, WEIGHTS_FILE, checkpointHash } from './checkpoint.js';
export { type MdlmConfig, MdlmConfigSchema, TIMESTEP_FEATURES, headWidth, parseMdlmConfig, readMdlmConfig } from './config.js';
export { SafetensorsFile, type SafetensorsDtype, type TensorInfo } from './safetensors.js';
export { GPT2_MDLM_VOCAB_SIZE, SYNTH_PRESETS, type SynthPreset, type SynthShape, synthConfig, synthesizeCheckpoint } from './synth.js';
export { expectedTensorShapes } from './tensor-layout.js';
export {
  GPT2_END_OF_TEXT_ID,
  GPT2_SYNTH_PRESETS,
  GPT2_VOCAB_SIZE,
  Gpt2Checkpoint,
  type Gpt2Config,
  Gpt2ConfigSchema,
  type Gpt2SynthPreset,
  type Gpt2SynthShape,
  gpt2HeadWidth,
  gpt2InnerWidth,
  readGpt2Config,
  synthesizeGpt2Checkpoint,
} from './gpt2/index.js';
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
