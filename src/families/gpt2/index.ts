export { Gpt2Checkpoint } from './checkpoint.js';
export { GPT2_END_OF_TEXT_ID, GPT2_VOCAB_SIZE, type Gpt2Config, Gpt2ConfigSchema, gpt2HeadWidth, gpt2InnerWidth, readGpt2Config } from './config.js';
export { GPT2_FAMILY, type Gpt2Manifest } from './gpt2.js';
export { Gpt2Model } from './graph.js';
export { GPT2_SYNTH_PRESETS, type Gpt2SynthPreset, type Gpt2SynthShape, synthesizeGpt2Checkpoint } from './synth.js';
