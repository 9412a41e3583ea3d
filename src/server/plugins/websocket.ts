import fastifyWebsocket from '@fastify/websocket';
import fp from 'fastify-plugin';

/** The subprotocol a browser offers for the stream; the key rides in a second, never-selected one (see the auth plugin). */
export const STREAM_SUBPROTOCOL = 'mdlm.v1';

/** How long WebSockets get to answer the close that app.close() sends them (shutdownGracefully closes them first, on its own deadline). */
const PRE_CLOSE_GRACE_MS = 2000;

/** WebSocket upgrades (GET /v1/stream), with the server's message size and shutdown. */
export const websocket = fp(
  async (app) => {
    const { config, streams } = app.mdlm;
    await app.register(fastifyWebsocket, {
      options: {
        maxPayload: config.limits.bodyLimit,
        // A browser that sends its key as a subprotocol must get one back, or it drops the socket.
        handleProtocols: (protocols: Set<string>) => (protocols.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
      },
      // Sockets get what they are owed, then a "going away" close instead of a bare one; those
      // that do not answer it in time are cut, well within Fastify's timeout for this hook.
      preClose: (done) => {
        void streams.closeAll(PRE_CLOSE_GRACE_MS).then(() => app.websocketServer.close(() => done()));
      },
    });
  },
  { name: 'mdlm-websocket', fastify: '5.x', decorators: { fastify: ['mdlm'] } },
);
