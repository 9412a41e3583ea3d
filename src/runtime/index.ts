export type { EntryDistribution, PassOutput, PassRow, RowDraws, RowResult, RowScores } from './pass.js';
export {
  DEVICES,
  type Device,
  type ExecutionProvider,
  type ProviderAttempt,
  type ProviderOptions,
  ProviderOptionsSchema,
  describeProviderChoice,
} from './providers.js';
export { ForwardRuntime, type RuntimeOptions, type RuntimeStartup } from './worker-pool.js';
