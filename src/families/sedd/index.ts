export { SeddAnalyticRound, seddAnalyticRounds } from './analytic-round.js';
export { seddLoss, seddScoreShift, seddUnmaskProbability } from './score.js';
export { SEDD_FAMILY, type SeddManifest } from './sedd.js';
