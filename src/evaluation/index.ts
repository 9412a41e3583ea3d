export { CausalScorer, type ScorerOptions } from './causal-scorer.js';
export { type GenPplOptions, type GenPplReport, type RowScores, type SampleScore, evalTokenizer, evaluateGenPpl, scoreRows } from './evaluate.js';
export { type ScoringWindow, cleanUpTokenizationSpaces, countedPositions, generativePerplexity, retokenize, scoringWindows, unigramEntropy } from './gen-ppl.js';
export { type SampleRecord, readSamplesFile } from './samples-file.js';
