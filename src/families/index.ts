export { exportModel } from './export.js';
export type {
  GenerationProcedures,
  ItemScorer,
  ItemToScore,
  ManifestTag,
  ModelFamily,
  SamplingProcedure,
  SamplingRequest,
  ScoringProcedures,
  ServedModel,
  ServingFamily,
  ServingProcedures,
} from './family.js';
export { GPT2_SYNTH_PRESETS, type Gpt2Manifest, synthesizeGpt2Checkpoint } from './gpt2/index.js';
export { readAnyManifest, readManifest, servedModelOf, servingFamilyOf } from './manifest.js';
export {
  type AnyExportManifest,
  FAMILIES,
  type GenerativeManifest,
  MODEL_TYPES,
  REPORTED_PARAMETERIZATIONS,
  REPORTED_PARAMETERIZATIONS_SUMMARY,
  checkpointModelType,
  familyOfCheckpointDir,
  familyOfTag,
  servingFamilyNamed,
} from './registry.js';
