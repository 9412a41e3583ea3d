export { DitNetwork, type DitWeights, type ModelGraphOptions, type Modulation } from './dit-network.js';
export {
  type DitGraph,
  type ExportNetwork,
  type ExportOptions,
  type GraphOptions,
  type TokenizerFiles,
  graphOptions,
  openDitNetwork,
  readTokenizer,
  tooManyTokens,
  writeExport,
} from './export.js';
export type { GraphBuilder } from './graph-builder.js';
export { EXPORT_HEADS, type ExportHead, MAX_TOP_LOGPROBS, buildHead, topWidth } from './heads.js';
export { type Residual, TransformerLayers, WEIGHT_DTYPES, type WeightDtype } from './layers.js';
export type { ExportLocation } from './load.js';
export {
  BUILDER_VERSION,
  type ExportKey,
  type ExportManifestBase,
  MANIFEST_FILE,
  ManifestBaseSchema,
  readManifestJson,
  staleReason,
} from './manifest.js';
export { chunks, linear, silu, transposeForMatMul } from './weight-math.js';
