import { ErrorCodes, MdlmError } from '../../../errors.js';
import { ERROR_RESPONSES } from '../../errors.js';
import { routePlugin } from '../common/route-plugin.js';
import { AliveSchema, ReadySchema } from './schemas.js';

/** Probes: /healthz answers while the process runs; /readyz only while it can take generation requests. */
export const healthRoutes = routePlugin('mdlm-routes-health', async (app) => {
  const { service, modelId, lifecycle } = app.mdlm;
  app.get('/healthz', { schema: { summary: 'Liveness: the process is up', tags: ['operations'], response: { 200: AliveSchema } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: the model is loaded, a worker is ready and the server is not shutting down', tags: ['operations'], response: { 200: ReadySchema, ...ERROR_RESPONSES } } },
    async () => {
      if (lifecycle.draining) throw new MdlmError(ErrorCodes.shuttingDown, 'the server is shutting down');
      const { readyWorkers, provider, workersDown } = service.status();
      if (readyWorkers === 0) throw new MdlmError(ErrorCodes.workerUnavailable, workersDown ?? 'no inference worker is ready (one is starting)');
      return { status: 'ready' as const, model: modelId, provider, ready_workers: readyWorkers };
    },
  );
});
