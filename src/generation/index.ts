export { GENERATION_DEFAULTS } from './defaults.js';
export { EngineCore, type EngineRuntime } from './engine-core.js';
// What opening a service and watching its passes take, so that its users need not reach the runtime or the scheduler.
export { DEVICES, ProviderOptionsSchema } from '../runtime/index.js';
export { DEFAULT_BATCH_ENTRIES, type PassReport, type SchedulerOptions } from '../scheduler/index.js';
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
