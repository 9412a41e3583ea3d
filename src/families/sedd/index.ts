export { seddLoss, seddUnmaskProbability } from './score.js';
export { SEDD_FAMILY } from './sedd.js';
