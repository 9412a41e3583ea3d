export { type BodyShape, MIX_KINDS, type MixFile, MixFileSchema, MixSpecSchema, mixFromFile, mixFromKinds } from './mix.js';
export { resultChartHtml } from './report-chart.js';
export { resultMarkdown } from './report-table.js';
export { type BenchHttpResult, BenchHttpResultSchema } from './result.js';
export { seedSources } from './seeds.js';
export { type HttpBenchOptions, type HttpBenchOutcome, failedRequests, runHttpBench } from './sweep.js';
export { describeMachine } from './machine.js';
