/**
 * WebSocket /v1/stream: generation requests whose every denoising step is streamed. The
 * protocol (README "WebSocket protocol"): the client sends {"type":"generate","id",...} and
 * {"type":"cancel","id"}; per id the server sends started, then step messages, then exactly
 * one of done, error or cancelled. Several ids may be in flight on one socket; closing the
 * socket cancels them all.
 */
import { ErrorCodes, MdlmError } from '../../../errors.js';
import { WEBSOCKET_ROUTE } from '../../plugins/transport.js';
import { routePlugin } from '../common/route-plugin.js';
import { streamClientMessageSchema } from './schemas.js';
import { STREAM_ENDPOINT, StreamSession } from './session.js';

export const streamRoutes = routePlugin('mdlm-routes-stream', async (app) => {
  const context = app.mdlm;
  const sessions = context.streams;
  const messageSchema = streamClientMessageSchema(context.bounds);
  app.route({
    method: 'GET',
    url: STREAM_ENDPOINT,
    config: WEBSOCKET_ROUTE,
    // Kept out of the OpenAPI document, whose description summarises this protocol instead.
    schema: { hide: true },
    handler: async () => {
      throw new MdlmError(ErrorCodes.upgradeRequired, `${STREAM_ENDPOINT} is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)`);
    },
    wsHandler: (socket, request) => {
      const session = new StreamSession(socket, request, context, messageSchema);
      sessions.add(session);
      socket.on('close', () => {
        session.cancelAll();
        sessions.delete(session);
      });
    },
  });
});

