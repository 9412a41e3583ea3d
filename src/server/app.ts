import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import { type ZodTypeProvider, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { GenerationService } from '../generation/index.js';
import { playground } from '../playground/index.js';
import { type Logger, REQUEST_ID_FIELD, REQUEST_ID_HEADER, requestId } from '../log.js';
import { STREAM_SUBPROTOCOL, installAuth } from './auth.js';
import type { ServerConfig } from '../api/index.js';
import { Lifecycle, type ServerContext } from './context.js';
import type { SchemaBounds } from './schemas.js';
import { installErrorHandling } from './errors.js';
import { ServerMetrics, metricsRoutes } from './metrics.js';
import { installOpenApi } from './openapi.js';
import { installRequestLog } from './request-log.js';
import { completionsRoutes } from './routes/completions.js';
import { generateRoutes } from './routes/generate.js';
import { healthRoutes } from './routes/health.js';
import { modelsRoutes } from './routes/models.js';
import { scoreRoutes } from './routes/score.js';
import { StreamSessions, streamRoutes } from './routes/stream.js';
import { tokenizerRoutes } from './routes/tokenizer.js';
import { installDraining } from './shutdown.js';
import { installTransportChecks, transportOptions } from './transport.js';
import { installWorkerLog } from './worker-log.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The model, settings and state this server was built with. */
    mdlm: ServerContext;
  }
}

export type MdlmServer = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface BuildServerOptions {
  service: GenerationService;
  config: ServerConfig;
  logger: Logger;
  modelId: string;
}

/** How long WebSockets get to answer the close that app.close() sends them (shutdownGracefully closes them first, on its own deadline). */
const PRE_CLOSE_GRACE_MS = 2000;

/** The HTTP and WebSocket API over a loaded model; listen() starts it, shutdownGracefully() stops it. */
export function buildServer({ service, config, logger, modelId }: BuildServerOptions): MdlmServer {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One summary line per request instead of Fastify's two (see request-log.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID_FIELD }),
    genReqId: (request) => requestId(request.headers[REQUEST_ID_HEADER]),
    bodyLimit: config.limits.bodyLimit,
    ...transportOptions(config),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every body is JSON: text/plain gets "unsupported content type" rather than a confusing type error.
  app.removeContentTypeParser('text/plain');

  const metrics = new ServerMetrics(service);
  const context: ServerContext = {
    service,
    config,
    modelId,
    metrics,
    bounds: { limits: config.limits, modelLength: service.model.modelLength, example: docsExample(service, modelId) },
    lifecycle: new Lifecycle(),
    streams: new StreamSessions(),
  };
  app.decorate('mdlm', context);

  app.register(websocket, {
    options: {
      maxPayload: config.limits.bodyLimit,
      // A browser that sends its key as a subprotocol must get one back, or it drops the socket.
      handleProtocols: (protocols: Set<string>) => (protocols.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
    },
    // Sockets get what they are owed, then a "going away" close instead of a bare one; those
    // that do not answer it in time are cut, well within Fastify's timeout for this hook.
    preClose: (done) => {
      void context.streams.closeAll(PRE_CLOSE_GRACE_MS).then(() => app.websocketServer.close(() => done()));
    },
  });
  // Hooks on the root apply to every route, the docs' included. They go after the WebSocket
  // plugin's own onRequest hook, which marks upgrade requests: one refused here (401) must
  // still have its socket closed by that plugin. The log goes first to see every outcome.
  app.after(() => {
    installRequestLog(app, context);
    installErrorHandling(app);
    installAuth(app, config.apiKey);
    installTransportChecks(app);
    installDraining(app, context.lifecycle);
  });
  installWorkerLog(app, service);
  installOpenApi(app, config.apiKey);
  app.register(metricsRoutes, { metrics });
  app.register(healthRoutes, context);
  app.register(modelsRoutes, context);
  app.register(generateRoutes, context);
  app.register(completionsRoutes, context);
  app.register(scoreRoutes, context);
  app.register(tokenizerRoutes, context);
  app.register(streamRoutes, context);
  app.register(playground);
  return app;
}

/** A text the served tokenizer can spell, for the docs' examples: English for GPT-2, two of its words for a word-level vocabulary. */
function docsExample(service: GenerationService, modelId: string): SchemaBounds['example'] {
  let text = 'The quick brown fox';
  let tokenIds: number[];
  try {
    tokenIds = service.tokenize(text, false);
  } catch {
    tokenIds = [1, 2];
    text = service.detokenize(tokenIds);
  }
  return { text, tokenIds, modelId };
}
