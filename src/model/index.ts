export { type ExportOptions, exportModel } from './export.js';
export {
  type AnyExportManifest,
  type ArExportManifest,
  BUILDER_VERSION,
  DIT_PARAMETERIZATIONS,
  type DitParameterization,
  type ExportKey,
  type ExportManifest,
  ExportManifestSchema,
  type GenerativeManifest,
  type Gpt2ExportManifest,
  MANIFEST_FILE,
  type Parameterization,
  readAnyManifest,
  readManifest,
  staleReason,
} from './manifest.js';
export { EXPORT_HEADS, type ExportHead, MAX_TOP_LOGPROBS, topWidth } from './heads.js';
export type { WeightDtype } from './layers.js';
