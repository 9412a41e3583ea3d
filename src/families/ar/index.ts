export { AR_FAMILY, type ArManifest } from './ar.js';
export { ArModel } from './graph.js';
export { LEFT_TO_RIGHT, LeftToRightRound, leftToRightRounds } from './left-to-right.js';
