import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { ErrorCodes, MdlmError } from '../errors.js';
import { within } from '../util/within.js';

/**
 * Once the drain is over, the least time the answers it settled (results, or shutting_down
 * for what was cancelled) get to reach their clients, even past the deadline.
 */
const DELIVERY_GRACE_MS = 2000;
/** How long cut sockets and Fastify's own close may take before shutdown carries on regardless. */
const CLOSE_GRACE_MS = 1000;
const CONNECTION_POLL_MS = 20;

/**
 * Stops taking work (/readyz answers 503 and new requests get shutting_down, on new
 * connections too), lets running requests finish within `timeoutMs`, cancels the rest with
 * shutting_down, then closes every connection: politely until the deadline (or a short grace
 * after the drain, whichever is later), then by force. Idle keep-alive connections stay open
 * for `drainDelayMs` first (see below). No step waits on a client, so it returns within about
 * max(`timeoutMs`, `drainDelayMs`) + 4 s (DELIVERY_GRACE_MS, then CLOSE_GRACE_MS twice)
 * whatever the clients do. The caller closes the service. Resolves to whether every request
 * finished in time.
 *
 * Why the delay: a load balancer learns of the drain only at its next /readyz check, and until
 * then it still sends requests on the keep-alive connections it holds. Closed at once, such a
 * connection takes a request with it (the balancer reads EOF and cannot tell whether it was
 * served, so it does not retry a POST); left open, the request is answered 503 shutting_down
 * with `Connection: close`, which the balancer retries on another replica. It is the
 * in-process counterpart of a Kubernetes preStop sleep.
 */
export async function shutdownGracefully(
  app: FastifyInstance,
  timeoutMs = app.mdlm.config.shutdownTimeoutMs,
  drainDelayMs = app.mdlm.config.drainDelayMs,
): Promise<boolean> {
  const { service, lifecycle } = app.mdlm;
  const deadline = Date.now() + timeoutMs;
  lifecycle.draining = true;
  service.stopAccepting();
  // From now on every response closes its connection (the draining plugin); those idle go once the delay is over.
  const delayed = delay(drainDelayMs).then(() => (app.server as Server).closeIdleConnections());
  const finished = await within(service.idle(), timeoutMs);
  if (!finished) {
    app.log.warn({ timeout_ms: timeoutMs }, 'shutdown deadline passed: cancelling the requests still running');
    service.cancelAll(new MdlmError(ErrorCodes.shuttingDown, `the server shut down before this request finished (deadline ${timeoutMs} ms)`));
  }
  await delayed;
  await closeConnections(app, Math.max(deadline, Date.now() + DELIVERY_GRACE_MS));
  if (!(await within(app.close(), CLOSE_GRACE_MS))) app.log.warn('the HTTP server did not finish closing in time; stopping anyway');
  return finished;
}

/**
 * Stops listening, then gives every connection until `closeBy` to take what it is owed:
 * WebSockets get their last messages and a "going away" close, keep-alive connections are
 * closed as soon as they are idle. At `closeBy` whatever is left (a reader that never reads,
 * a request whose body never ends) is cut.
 */
async function closeConnections(app: FastifyInstance, closeBy: number): Promise<void> {
  const server = app.server as Server;
  // Node's 'close' comes once the listener and every connection, upgraded ones included, are gone.
  const allClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  const streams = app.mdlm.streams.closeAll(closeBy - Date.now());
  const poll = setInterval(() => server.closeIdleConnections(), CONNECTION_POLL_MS);
  const inTime = await within(allClosed, closeBy - Date.now());
  clearInterval(poll);
  if (!inTime) {
    const open = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
    app.log.warn({ connections: open }, 'connections still open at the shutdown deadline: cutting them');
    server.closeAllConnections();
  }
  const cut = await streams;
  if (cut > 0) app.log.warn({ websockets: cut }, 'WebSocket clients that did not answer the close by the shutdown deadline: cut');
  await within(allClosed, CLOSE_GRACE_MS);
}
