export { buildServer, type BuildServerOptions, type MdlmServer } from './app.js';
export { DEFAULT_BATCH_ENTRIES, type Limits, LimitsSchema, checkSettingsAgree, parseServerConfig, schedulerOptions, type ServerConfig, type ServerConfigInput, ServerConfigSchema } from './config.js';
export { generateResponse } from './generate-body.js';
export { itemScoreJson } from './routes/score.js';
export { shutdownGracefully } from './shutdown.js';
