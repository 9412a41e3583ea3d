export { type ExportOptions, exportModel } from './export.js';
export { type ExportBytes, type ExportLocation, readExport } from './load.js';
export {
  type AnyExportManifest,
  BUILDER_VERSION,
  type ExportFiles,
  type ExportKey,
  type ExportManifest,
  ExportManifestSchema,
  type Gpt2ExportManifest,
  MANIFEST_FILE,
  readAnyManifest,
  readManifest,
  staleReason,
} from './manifest.js';
export { EXPORT_HEADS, type ExportHead, MAX_TOP_LOGPROBS, topWidth } from './heads.js';
export { WEIGHT_DTYPES, type WeightDtype } from './layers.js';
