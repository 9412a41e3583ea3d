export { MdlmModel } from './graph.js';
export { MDLM_FAMILY } from './mdlm.js';
