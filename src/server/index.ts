export { buildServer, type BuildServerOptions, type MdlmServer } from './app.js';
export { type Limits, LimitsSchema, parseServerConfig, schedulerOptions, type ServerConfig, type ServerConfigInput, ServerConfigSchema } from '../api/index.js';
export { shutdownGracefully } from './shutdown.js';
