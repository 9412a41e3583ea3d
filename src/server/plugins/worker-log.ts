import fp from 'fastify-plugin';

/**
 * The inference workers in the log: every start that failed (with why, and when the next
 * attempt is due), and every worker that is ready again after a restart.
 */
export const workerLog = fp(
  async (app) => {
    const detach = app.mdlm.service.onWorkerEvent((event) => {
      if (event.type === 'ready') {
        app.log.info({ worker: event.worker }, `inference worker ${event.worker} is ready`);
        return;
      }
      const retry = `retrying in ${(event.retryInMs / 1000).toFixed(1)} s`;
      app.log.error({ worker: event.worker, reason: event.reason, retry_in_ms: event.retryInMs }, `inference worker ${event.worker} could not be started: ${event.reason}; ${retry}`);
    });
    app.addHook('onClose', async () => detach());
  },
  { name: 'mdlm-worker-log', fastify: '5.x', decorators: { fastify: ['mdlm'] } },
);
