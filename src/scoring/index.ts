export { ArScorer } from './ar-scorer.js';
export { CausalItemScorer } from './causal-item-scorer.js';
export { type WrappedCorpus, wrapDocuments } from './corpus.js';
export { type ElboModel, ElboScorer, type MaskedLoss, SAMPLING_EPS, drawTimes, subsLoss } from './elbo-scorer.js';
export { type ItemScore, SCORE_METHODS, type ScoreMethod, type ScoreWindow, type ScoredAlternatives } from './types.js';
