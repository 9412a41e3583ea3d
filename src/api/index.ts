/**
 * What the command line and the server share: the server's settings, the request parameters
 * (declared once for the HTTP fields and the flags) and the response shapes both print.
 */
export { count } from './fields.js';
export {
  GENERATE_PARAMS,
  type GenerateBody,
  type GenerateResponse,
  GenerateResponseSchema,
  RESPONSE_PARAMS,
  type SamplingBody,
  SampleSchema,
  StatsSchema,
  generateFields,
  generateRequest,
  generateResponse,
  outputParam,
  samplingRequest,
  strideWithinWindow,
} from './generate.js';
export { type FieldParam, type FlagSpec, type GroupParam, type Param, type ParamTable, type RequestBounds, type RequestOf } from './params.js';
export { SAMPLING_PARAMS, samplingFields } from './sampling-params.js';
export { type ItemScore, ItemScoreSchema, itemScoreJson } from './score.js';
export {
  type Limits,
  LimitsSchema,
  type ServerConfig,
  type ServerConfigInput,
  ServerConfigSchema,
  checkSettingsAgree,
  parseServerConfig,
  schedulerOptions,
} from './server-config.js';
