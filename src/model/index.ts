export { type ExportOptions, exportModel } from './export.js';
export { type ExportBytes, type ExportLocation, readExport } from './load.js';
export {
  BUILDER_VERSION,
  type ExportFiles,
  type ExportKey,
  type ExportManifest,
  ExportManifestSchema,
  MANIFEST_FILE,
  readManifest,
  staleReason,
} from './manifest.js';
export { EXPORT_HEADS, type ExportHead, MAX_TOP_LOGPROBS, topWidth } from './heads.js';
export type { WeightDtype } from './mdlm-graph.js';
