export { buildServer, type BuildServerOptions, type MdlmServer } from './app.js';
export { type Limits, LimitsSchema, checkSettingsAgree, parseServerConfig, schedulerOptions, type ServerConfig, type ServerConfigInput, ServerConfigSchema } from './config.js';
export { generateResponse } from './generate-body.js';
export { itemScoreJson } from './score-body.js';
export { shutdownGracefully } from './shutdown.js';
