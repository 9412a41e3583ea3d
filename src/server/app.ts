import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import { type ZodTypeProvider, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ServerConfig } from '../api/index.js';
import type { GenerationService } from '../generation/index.js';
import { type Logger, REQUEST_ID_FIELD, REQUEST_ID_HEADER, requestId } from '../log.js';
import { playground } from '../playground/index.js';
import { serverContext } from './context.js';
import { auth } from './plugins/auth.js';
import { draining } from './plugins/draining.js';
import { errorHandler } from './plugins/error-handler.js';
import { metricsRoute } from './plugins/metrics.js';
import { openApi } from './plugins/openapi.js';
import { requestLog } from './plugins/request-log.js';
import { transportChecks, transportOptions } from './plugins/transport.js';
import { websocket } from './plugins/websocket.js';
import { workerLog } from './plugins/worker-log.js';
import { completionsRoutes } from './routes/completions/index.js';
import { generateRoutes } from './routes/generate/index.js';
import { healthRoutes } from './routes/health/index.js';
import { modelsRoutes } from './routes/models/index.js';
import { scoreRoutes } from './routes/score/index.js';
import { streamRoutes } from './routes/stream/index.js';
import { tokenizerRoutes } from './routes/tokenizer/index.js';

export type MdlmServer = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface BuildServerOptions {
  service: GenerationService;
  config: ServerConfig;
  logger: Logger;
  modelId: string;
}

/**
 * The HTTP and WebSocket API over a loaded model; listen() starts it, shutdownGracefully() stops it.
 * Each plugin declares what it needs (fastify-plugin's dependencies and decorators), which
 * Fastify checks at start-up; they are registered in an order that satisfies them. The hooks
 * run in registration order, and the OpenAPI document lists the routes registered after it.
 */
export function buildServer({ service, config, logger, modelId }: BuildServerOptions): MdlmServer {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One summary line per request instead of Fastify's two (see the request log plugin).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID_FIELD }),
    genReqId: (request) => requestId(request.headers[REQUEST_ID_HEADER]),
    bodyLimit: config.limits.bodyLimit,
    ...transportOptions(config),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every body is JSON: text/plain gets "unsupported content type" rather than a confusing type error.
  app.removeContentTypeParser('text/plain');

  app.register(serverContext, { service, config, modelId });
  app.register(websocket);
  app.register(requestLog);
  app.register(errorHandler);
  app.register(auth);
  app.register(transportChecks);
  app.register(draining);
  app.register(workerLog);
  app.register(openApi);
  app.register(metricsRoute);
  app.register(healthRoutes);
  app.register(modelsRoutes);
  app.register(generateRoutes);
  app.register(completionsRoutes);
  app.register(scoreRoutes);
  app.register(tokenizerRoutes);
  app.register(streamRoutes);
  app.register(playground);
  return app;
}
