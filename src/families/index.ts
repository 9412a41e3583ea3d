export { exportModel } from './export.js';
export type { ItemScorer, ScoringProcedures, ServedModel, ServingFamily } from './family.js';
export { GPT2_SYNTH_PRESETS, synthesizeGpt2Checkpoint } from './gpt2/index.js';
export { readAnyManifest, readManifest, servedModelOf, servingFamilyOf } from './manifest.js';
export {
  type AnyExportManifest,
  FAMILIES,
  type GenerativeManifest,
  REPORTED_PARAMETERIZATIONS,
  REPORTED_PARAMETERIZATIONS_SUMMARY,
  checkpointModelType,
  familyOfCheckpointDir,
  familyOfTag,
  servingFamilyNamed,
  servingFamilyReportedAs,
} from './registry.js';
