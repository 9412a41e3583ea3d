import fp from 'fastify-plugin';
import { type ErrorCode, ErrorCodes, MdlmError } from '../../errors.js';
import { envelope, toApiError } from '../errors.js';

/** 5xx answers that say nothing is wrong with the server, so they are not logged as failures. */
const CLIENT_CAUSED = new Set<ErrorCode>([ErrorCodes.shuttingDown, ErrorCodes.notImplemented]);

/** Every failure, and every unknown route, answers with the envelope; the request log records its code. */
export const errorHandler = fp(
  async (app) => {
    app.setErrorHandler((error, request, reply) => {
      const api = toApiError(error);
      request.outcome.code = api.code;
      if (api.status >= 500 && !CLIENT_CAUSED.has(api.code)) request.log.error({ err: error }, 'request failed');
      return reply.code(api.status).headers(api.headers).send(envelope(api));
    });
    app.setNotFoundHandler((request, reply) => {
      const api = toApiError(new MdlmError(ErrorCodes.notFound, `there is no ${request.method} ${request.url.split('?')[0]}`));
      request.outcome.code = api.code;
      return reply.code(api.status).send(envelope(api));
    });
  },
  { name: 'mdlm-error-handler', fastify: '5.x', dependencies: ['mdlm-request-log'], decorators: { request: ['outcome'] } },
);
