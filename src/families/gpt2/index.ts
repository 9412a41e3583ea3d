export { GPT2_FAMILY } from './gpt2.js';
export { GPT2_SYNTH_PRESETS, synthesizeGpt2Checkpoint } from './synth.js';
