/**
 * With an API key configured, every request needs it as `Authorization: Bearer <key>` (what
 * OpenAI clients send) or `x-api-key: <key>`. A browser's WebSocket cannot set headers, so
 * the upgrade may carry it as the subprotocol `mdlm-key.<base64url(key)>` beside `mdlm.v1`
 * (the one the server selects, so the key is never echoed). Probes, the API description and
 * the playground page stay open: orchestrators and browsers cannot send the key to fetch them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorCodes, MdlmError } from '../../errors.js';

const PUBLIC_ROUTES = new Set(['/', '/healthz', '/readyz', '/openapi.json']);
const PUBLIC_PREFIXES = ['/docs', '/playground'];
const KEY_SUBPROTOCOL_PREFIX = 'mdlm-key.';

/** With --api-key set, refuses (unauthorized) a request to a non-public route that does not present the key. */
export const auth = fp(
  async (app) => {
    const { apiKey } = app.mdlm.config;
    if (apiKey === undefined) return;
    const expected = digest(apiKey);
    app.addHook('onRequest', async (request) => {
      if (isPublic(request)) return;
      const presented = presentedKey(request);
      // Comparing fixed-length digests takes the same time whatever the key's length or content.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        throw new MdlmError(ErrorCodes.unauthorized, presented === undefined ? 'this server needs an API key: send Authorization: Bearer <key> or x-api-key' : 'the API key is not valid');
      }
    });
  },
  // Its hook runs after the WebSocket plugin's, which must still close a refused upgrade's socket, and the request log's, which sees every outcome.
  { name: 'mdlm-auth', fastify: '5.x', dependencies: ['mdlm-websocket', 'mdlm-request-log'], decorators: { fastify: ['mdlm'] } },
);

function isPublic(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && (PUBLIC_ROUTES.has(route) || PUBLIC_PREFIXES.some((prefix) => route === prefix || route.startsWith(`${prefix}/`)));
}

function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  const header = request.headers['x-api-key'];
  return bearer ?? (typeof header === 'string' && header !== '' ? header : undefined) ?? subprotocolKey(request.headers['sec-websocket-protocol']);
}

function subprotocolKey(offered: string | undefined): string | undefined {
  const entry = offered?.split(',').map((protocol) => protocol.trim()).find((protocol) => protocol.startsWith(KEY_SUBPROTOCOL_PREFIX));
  return entry === undefined ? undefined : Buffer.from(entry.slice(KEY_SUBPROTOCOL_PREFIX.length), 'base64url').toString('utf8');
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
