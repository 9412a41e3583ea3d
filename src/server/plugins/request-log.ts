/**
 * The request id travels back in the x-request-id header, and every request ends in one
 * summary line and one count in mdlm_requests_total, whatever its outcome: ok, cancelled
 * (the client went away first) or the error code it got. WebSocket requests are summarised
 * one per generate message, by the stream route.
 */
import type { FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import type { GenerationStats } from '../../generation/index.js';
import { REQUEST_ID_HEADER } from '../../log.js';
import type { ServerMetrics } from '../metrics.js';

/** What a request that ran the model reports: a generation's stats, or a score's (which walk no steps). */
export type RunStats = Omit<GenerationStats, 'steps'> & { steps?: number };

export interface RequestOutcome {
  /** The error code the request ended with; absent when it succeeded. */
  code?: string;
  /** Set by routes that generated something. */
  stats?: RunStats;
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome: RequestOutcome;
  }
}

export interface RequestSummary {
  endpoint: string;
  outcome: string;
  status?: number;
  durationMs: number;
  stats?: RunStats;
}

export function recordRequest(log: FastifyBaseLogger, metrics: ServerMetrics, summary: RequestSummary): void {
  metrics.requests.inc({ endpoint: summary.endpoint, outcome: summary.outcome });
  const { stats } = summary;
  log.info(
    {
      endpoint: summary.endpoint,
      outcome: summary.outcome,
      status: summary.status,
      duration_ms: Math.round(summary.durationMs),
      ...(stats && { forward_passes: stats.forwardPasses, steps: stats.steps, wall_ms: Math.round(stats.wallMs), queued_ms: Math.round(stats.queuedMs) }),
    },
    'request finished',
  );
}

/** Several generations behind one request (a completion with several prompts): passes add up, times overlap. */
export function combineStats(all: readonly RunStats[]): RunStats {
  return {
    steps: Math.max(0, ...all.map((stats) => stats.steps ?? 0)),
    forwardPasses: all.reduce((sum, stats) => sum + stats.forwardPasses, 0),
    wallMs: Math.max(0, ...all.map((stats) => stats.wallMs)),
    queuedMs: Math.max(0, ...all.map((stats) => stats.queuedMs)),
  };
}

export const requestLog = fp(
  async (app) => {
    const { metrics } = app.mdlm;
    app.decorateRequest('outcome', null as unknown as RequestOutcome);
    app.addHook('onRequest', async (request, reply) => {
      request.outcome = {};
      reply.header(REQUEST_ID_HEADER, request.id);
      const started = performance.now();
      // 'close' comes after the last byte, or when the client hung up before it.
      reply.raw.once('close', () => {
        // An accepted WebSocket upgrade never writes an HTTP response; the stream route summarises its messages.
        if (request.ws && !reply.raw.writableEnded) return;
        const finished = reply.raw.writableFinished;
        const code = request.outcome.code;
        recordRequest(request.log, metrics, {
          endpoint: request.routeOptions.url ?? 'unmatched',
          outcome: !finished ? 'cancelled' : (code ?? (reply.statusCode < 400 ? 'ok' : 'error')),
          status: finished ? reply.statusCode : undefined,
          durationMs: performance.now() - started,
          stats: request.outcome.stats,
        });
      });
    });
  },
  // Its hook runs after the WebSocket plugin's, which marks upgrade requests (request.ws).
  { name: 'mdlm-request-log', fastify: '5.x', dependencies: ['mdlm-websocket'], decorators: { fastify: ['mdlm'], request: ['ws'] } },
);
