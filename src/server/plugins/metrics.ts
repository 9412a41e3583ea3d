import fp from 'fastify-plugin';

/** GET /metrics: the server's Prometheus registry, in the text format. */
export const metricsRoute = fp(
  async (app) => {
    const { registry } = app.mdlm.metrics;
    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'mdlm-metrics', fastify: '5.x', decorators: { fastify: ['mdlm'] } },
);
