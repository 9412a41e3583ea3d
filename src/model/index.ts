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
export type { ExportHead, WeightDtype } from './mdlm-graph.js';
