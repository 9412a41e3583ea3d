export { type ExportOptions, exportModel } from './export.js';
export { type CheckedExport, type ExportLocation, assertDataUnchanged, checkExport, readCheckedData } from './load.js';
export {
  type AnyExportManifest,
  type ArExportManifest,
  BUILDER_VERSION,
  DIT_PARAMETERIZATIONS,
  type DitParameterization,
  type ExportFiles,
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
export { WEIGHT_DTYPES, type WeightDtype } from './layers.js';
