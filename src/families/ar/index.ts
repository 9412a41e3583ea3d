export { AR_FAMILY } from './ar.js';
