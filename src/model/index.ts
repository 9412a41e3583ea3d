export { type ExportOptions, exportModel } from './export.js';
export type { ExportLocation } from './load.js';
export {
  type AnyExportManifest,
  BUILDER_VERSION,
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
