export { type ExportOptions, exportModel } from './export.js';
export {
  BUILDER_VERSION,
  type ExportKey,
  type ExportManifest,
  ExportManifestSchema,
  MANIFEST_FILE,
  readManifest,
  staleReason,
} from './manifest.js';
export { EXPORT_HEADS, type ExportHead, MAX_TOP_LOGPROBS, topWidth } from './heads.js';
export type { WeightDtype } from './layers.js';
