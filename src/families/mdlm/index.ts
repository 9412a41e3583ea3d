export { MdlmModel } from './graph.js';
export { MDLM_FAMILY, type MdlmManifest } from './mdlm.js';
