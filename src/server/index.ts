export { buildServer, type BuildServerOptions, type MdlmServer } from './app.js';
export { type Limits, LimitsSchema, parseServerConfig, schedulerOptions, type ServerConfig, type ServerConfigInput, ServerConfigSchema } from './config.js';
export { shutdownGracefully } from './shutdown.js';
