export { GENERATION_DEFAULTS } from './defaults.js';
export {
  type EncodedInput,
  type GenerateHooks,
  type GenerateRequest,
  type GenerateResult,
  type GeneratedSample,
  type GenerationStart,
  GenerationService,
  type ServiceOptions,
} from './service.js';
