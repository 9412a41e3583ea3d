import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ErrorCodes, MdlmError } from '../errors.js';

/** After the work is done, how long responses still being written may take before their connections are cut. */
const CONNECTION_GRACE_MS = 2000;
const CONNECTION_POLL_MS = 20;

/**
 * Stops taking work (/readyz answers 503, new generation requests get shutting_down, no new
 * connections), lets running requests finish within `timeoutMs`, cancels the rest with
 * shutting_down, then closes the server. The caller closes the service. Resolves to whether
 * everything finished in time.
 */
export async function shutdownGracefully(app: FastifyInstance, timeoutMs = app.mdlm.config.shutdownTimeoutMs): Promise<boolean> {
  const { service, lifecycle } = app.mdlm;
  lifecycle.draining = true;
  service.stopAccepting();
  const connectionsClosed = new Promise<void>((resolve) => app.server.once('close', resolve));
  // Fastify's close() below finds the listener closed already, which it accepts.
  app.server.close();
  const finished = await within(service.idle(), timeoutMs);
  if (!finished) {
    app.log.warn({ timeout_ms: timeoutMs }, 'shutdown deadline passed: cancelling the requests still running');
    service.cancelAll(new MdlmError(ErrorCodes.shuttingDown, `the server shut down before this request finished (deadline ${timeoutMs} ms)`));
  }
  await app.close();
  await closeConnections(app, connectionsClosed);
  return finished;
}

/**
 * Node keeps a keep-alive connection open after its last response even on a closed server,
 * so idle ones are closed as they appear, and whatever is left after the grace is cut.
 */
async function closeConnections(app: FastifyInstance, closed: Promise<void>): Promise<void> {
  const server = app.server as Server;
  const poll = setInterval(() => server.closeIdleConnections(), CONNECTION_POLL_MS);
  const inTime = await within(closed, CONNECTION_GRACE_MS);
  clearInterval(poll);
  if (inTime) return;
  server.closeAllConnections();
  for (const client of app.websocketServer.clients) client.terminate();
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
