export { CausalScorer, type ScorerOptions } from './causal-scorer.js';
export { type CorpusBackend, type CorpusOptions, type PplReport, PplReportSchema, corpusPerplexity, mergePplReports, serverBackend, serviceBackend } from './corpus-ppl.js';
export {
  type GenPplOptions,
  type GenPplReport,
  type RowScores,
  type SampleScore,
  type TextCodec,
  type WindowScore,
  evalTokenizer,
  evaluateGenPpl,
  mergeGenPplReports,
  scoreRows,
  serverCodec,
} from './evaluate.js';
export { type ScoringWindow, cleanUpTokenizationSpaces, countedPositions, generativePerplexity, retokenize, scoringWindows, unigramEntropy } from './gen-ppl.js';
export { type SampleRecord, readSamplesFile } from './samples-file.js';
export {
  type GenerateSpec,
  type SampleGenerator,
  SEED_SEMI_AR,
  SEED_TABLE_SCALES,
  type SeedTablesResult,
  type SeedTablesRun,
  type SeedTablesScale,
  type SeedTablesScaleName,
  type SemiArRow,
  type WallClockRow,
  type TimedSample,
  runSeedTables,
  serverGenerator,
  serviceGenerator,
  syntheticModels,
} from './seed-tables.js';
export { type Shard, checkShards, inShard, parseShard } from './shard.js';
export { ServerWindowScorer, type WindowScorer, planPasses } from './window-scorer.js';
