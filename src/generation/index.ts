export { GENERATION_DEFAULTS } from './defaults.js';
export { EngineCore, type EngineRuntime } from './engine-core.js';
export { type SpanText, type TextSpan, eosCut, spanText } from './output-text.js';
export { type PreparedScore, SCORE_DEFAULTS, type ScoreItemRequest, type ScoreRequest } from './prepare-score.js';
export type { FixedInput, GenerateRequest, PreparedGeneration } from './prepare.js';
export {
  type GenerateHooks,
  type GenerateResult,
  type GeneratedSample,
  type GenerationStart,
  type GenerationStats,
  GenerationService,
  type ModelInfo,
  type ScoreResult,
  type ScoredItem,
  type ServiceOptions,
  type ServiceStartup,
  type ServiceStatus,
  type TokenizerInfo,
  type WorkerEvent,
} from './service.js';
