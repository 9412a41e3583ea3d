/**
 * One server's model, settings and state, decorated once on the root instance as `app.mdlm`
 * by the context plugin; every other plugin and route reads it from there.
 */
import fp from 'fastify-plugin';
import type { Limits, RequestBounds, ServerConfig } from '../api/index.js';
import type { GenerationService } from '../generation/index.js';
import { ServerMetrics } from './metrics.js';
import { StreamSessions } from './routes/stream/sessions.js';

/** Whether the server is still taking work; /readyz reports it. */
export class Lifecycle {
  draining = false;
}

/** What bounds the request schemas, and the docs' examples. */
export interface SchemaBounds extends RequestBounds {
  limits: Limits;
  /** A short text this model's tokenizer can encode, its ids, and the served id. */
  example: { text: string; tokenIds: number[]; modelId: string };
}

/** What the docs' "Try it out" sends: small and fast on any model, never the largest request the schema allows. */
export function exampleWindow(bounds: SchemaBounds): { length: number; steps: number } {
  return { length: Math.min(32, bounds.modelLength), steps: 32 };
}

export interface ServerContext {
  service: GenerationService;
  config: ServerConfig;
  /** The id clients name in /v1/completions and see in /v1/models. */
  modelId: string;
  metrics: ServerMetrics;
  bounds: SchemaBounds;
  lifecycle: Lifecycle;
  /** The open WebSockets, so that shutting down can deliver what they are owed and close them. */
  streams: StreamSessions;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The model, settings and state this server was built with. */
    mdlm: ServerContext;
  }
}

export interface ContextOptions {
  service: GenerationService;
  config: ServerConfig;
  modelId: string;
}

/** Decorates the root instance with the server's context; the plugins that read it declare the `mdlm` decorator. */
export const serverContext = fp<ContextOptions>(
  async (app, { service, config, modelId }) => {
    app.decorate('mdlm', {
      service,
      config,
      modelId,
      metrics: new ServerMetrics(service),
      bounds: { limits: config.limits, modelLength: service.model.modelLength, example: docsExample(service, modelId) },
      lifecycle: new Lifecycle(),
      streams: new StreamSessions(),
    });
    app.addHook('onClose', async () => app.mdlm.metrics.detach());
  },
  { name: 'mdlm-context', fastify: '5.x' },
);

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
