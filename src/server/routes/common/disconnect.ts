import type { FastifyReply } from 'fastify';

/**
 * Aborts when the client hangs up before the whole reply went out: the response closes
 * without having finished. Work for a client that is gone is cancelled, not completed.
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
