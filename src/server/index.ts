export { buildServer, type BuildServerOptions, type MdlmServer } from './app.js';
export { type Limits, LimitsSchema, parseServerConfig, schedulerOptions, type ServerConfig, type ServerConfigInput, ServerConfigSchema } from '../api/index.js';
export { shutdownGracefully } from './shutdown.js';
export { type CompletionChunk, CompletionChunkSchema, type CompletionEvent, CompletionEventSchema, type CompletionResponse, CompletionResponseSchema } from './routes/completions/schemas.js';
export { type StreamServerMessage, StreamServerMessageSchema } from './routes/stream/schemas.js';
