import fp from 'fastify-plugin';

/**
 * While draining (shutdownGracefully), every response closes its connection after it, so that
 * no client sends a request on a keep-alive connection the server is about to close (a request
 * reset that way cannot be told from one the server never saw); its next request opens a new
 * connection and gets a clean 503 until the drain is over.
 */
export const draining = fp(
  async (app) => {
    const { lifecycle } = app.mdlm;
    app.addHook('onSend', async (_request, reply) => {
      if (lifecycle.draining) reply.header('connection', 'close');
    });
  },
  { name: 'mdlm-draining', fastify: '5.x', decorators: { fastify: ['mdlm'] } },
);
