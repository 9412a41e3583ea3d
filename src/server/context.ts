import type { GenerationService } from '../generation/index.js';
import type { ServerConfig } from '../api/index.js';
import type { ServerMetrics } from './metrics.js';
import type { StreamSessions } from './routes/stream.js';
import type { SchemaBounds } from './schemas.js';

/** Whether the server is still taking work; /readyz reports it. */
export class Lifecycle {
  draining = false;
}

/** What every route plugin gets as its options: one server's model, settings and state. */
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
