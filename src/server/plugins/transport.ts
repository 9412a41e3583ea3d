/**
 * The refusals Node's HTTP server and Fastify make by themselves, before any route runs (an
 * unparsable request, headers too large, a bad URL, an unmet Expect, a WebSocket handshake
 * that ws would reject), answered in the error envelope like every other error; and the
 * request framing this server does not support, refused instead of being misread.
 */
import { STATUS_CODES, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerConfig } from '../../api/index.js';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { type ApiError, envelope, toApiError } from '../errors.js';

/** Route config of the one route that takes a WebSocket upgrade. */
export const WEBSOCKET_ROUTE = { websocket: true } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on routes that accept a WebSocket upgrade; an upgrade to any other route is refused. */
    websocket?: boolean;
  }
}

type TransportOptionNames = 'requestTimeout' | 'keepAliveTimeout' | 'clientErrorHandler' | 'frameworkErrors' | 'return503OnClosing' | 'onProtoPoisoning' | 'onConstructorPoisoning';

/** Node checks its request and headers timeouts on a timer, every 30 s by default: far too coarse for a 10 s timeout. */
const TIMEOUT_CHECKS_PER_PERIOD = 4;
const MAX_TIMEOUT_CHECK_MS = 1000;

/**
 * Fastify options for the transport: time limits, so that requests sent by halves cannot pile
 * up (Fastify turns Node's request timeout off by default), and its own refusals routed
 * through the envelope.
 */
export function transportOptions(config: Pick<ServerConfig, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>): Pick<FastifyServerOptions, TransportOptionNames> & { http: ServerOptions } {
  const timeouts = { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, keepAliveTimeout: config.keepAliveTimeoutMs };
  return {
    http: {
      ...timeouts,
      connectionsCheckingInterval: Math.max(1, Math.min(MAX_TIMEOUT_CHECK_MS, Math.floor(config.headersTimeoutMs / TIMEOUT_CHECKS_PER_PERIOD))),
      // Node's own Host check answers with an empty 400; the transport checks make it instead.
      requireHostHeader: false,
    },
    // Fastify sets these two on the server itself, over what `http` said.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    clientErrorHandler: answerClientError,
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const api = toApiError(error);
      void reply.code(api.status).headers(api.headers).send(envelope(api));
    },
    // Fastify's own 503 for requests that arrive while it closes has a body of its own; with
    // this off they reach the routes, where a draining server answers shutting_down.
    return503OnClosing: false,
    // "__proto__" and "constructor" are valid JSON keys. Parsed by JSON.parse they are plain
    // own properties, and every body schema is strict, so they are refused as unknown fields
    // (naming the field) rather than as malformed JSON.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
  };
}

/**
 * Node's own refusals: a request it cannot parse (400), headers past its limit (431) or a
 * request not received in time (408). The socket carries no request Fastify could answer,
 * so the response is written on it directly.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const api = toApiError(clientErrorAsMdlm(error));
  if (socket.writable) socket.end(rawResponse(api), () => socket.destroy());
  else socket.destroy();
}

function clientErrorAsMdlm(error: Error & { code?: string; reason?: string }): MdlmError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new MdlmError(ErrorCodes.requestTimeout, 'the request was not received in time (see --request-timeout-ms and --headers-timeout-ms)');
  if (error.code === 'HPE_HEADER_OVERFLOW') return new MdlmError(ErrorCodes.headersTooLarge, 'the request line and headers are larger than this server accepts (16 KiB)');
  return new MdlmError(ErrorCodes.badRequest, `the request is not valid HTTP/1.1 (${error.reason ?? error.code ?? 'unparsable'})`);
}

function rawResponse(api: ApiError): string {
  const body = JSON.stringify(envelope(api));
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...api.headers };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${api.status} ${STATUS_CODES[api.status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Checks every request's framing and handshake before its route runs. */
export const transportChecks = fp(
  async (app) => {
    // Node answers an Expect it cannot meet with a bare 417 unless someone listens.
    app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
      const api = toApiError(new MdlmError(ErrorCodes.expectationFailed, `this server cannot meet "Expect: ${request.headers.expect}"; only 100-continue is supported`));
      const body = JSON.stringify(envelope(api));
      response.writeHead(api.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
    });
    app.addHook('onRequest', async (request) => {
      refuseMissingHost(request);
      refuseUnsupportedFraming(request);
      if (request.ws) refuseBadHandshake(request);
    });
  },
  // Its hook runs after the WebSocket plugin's (a refused upgrade's socket is still closed) and the request log's (which sees every refusal).
  { name: 'mdlm-transport', fastify: '5.x', dependencies: ['mdlm-websocket', 'mdlm-request-log'], decorators: { request: ['ws'] } },
);

/** Node's own check (requireHostHeader) answers with an empty 400, so it is turned off in favour of this one. */
function refuseMissingHost(request: FastifyRequest): void {
  if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
    throw new MdlmError(ErrorCodes.badRequest, 'an HTTP/1.1 request needs a Host header');
  }
}

/**
 * Bodies are read as they arrive, so a coding nobody decodes would be parsed as if absent:
 * gzip read as JSON, UTF-16 read as UTF-8, "gzip, chunked" read as plain chunked.
 */
function refuseUnsupportedFraming(request: FastifyRequest): void {
  const { headers } = request;
  const transfer = headers['transfer-encoding'];
  if (transfer !== undefined && !isExactly(transfer, 'chunked')) {
    throw new MdlmError(ErrorCodes.notImplemented, `Transfer-Encoding "${transfer}" is not supported: send the body with a Content-Length, or chunked without other codings`);
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && !isExactly(encoding, 'identity')) {
    throw new MdlmError(ErrorCodes.unsupportedMediaType, `Content-Encoding "${encoding}" is not supported: send the body uncompressed`);
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) {
    throw new MdlmError(ErrorCodes.unsupportedMediaType, `charset "${charset}" is not supported: send the body as UTF-8`);
  }
}

function isExactly(header: string, coding: string): boolean {
  const codings = header.split(',').map((part) => part.trim().toLowerCase()).filter((part) => part !== '');
  return codings.length === 1 && codings[0] === coding;
}

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
const WEBSOCKET_VERSIONS = ['8', '13'];
/** An HTTP token (RFC 9110 §5.6.2). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * An upgrade request reaches every route, and ws answers a handshake it dislikes with a bare
 * text response. These are ws's own checks (RFC 6455 §4.2.1), made first so that the refusal
 * carries the envelope.
 */
function refuseBadHandshake(request: FastifyRequest): void {
  const { headers } = request;
  if (request.routeOptions.config.websocket !== true) {
    throw new MdlmError(ErrorCodes.badRequest, `${request.method} ${request.routeOptions.url ?? request.url} cannot be upgraded (to "${headers.upgrade}"); only GET /v1/stream is a WebSocket`);
  }
  if (headers.upgrade?.toLowerCase() !== 'websocket') throw new MdlmError(ErrorCodes.badRequest, `Upgrade must be "websocket", not "${headers.upgrade}"`);
  if (!WEBSOCKET_KEY.test(headers['sec-websocket-key'] ?? '')) throw new MdlmError(ErrorCodes.badRequest, 'Sec-WebSocket-Key is missing or is not 16 bytes in base64');
  if (!validSubprotocols(headers['sec-websocket-protocol'])) throw new MdlmError(ErrorCodes.badRequest, 'Sec-WebSocket-Protocol is not a list of distinct tokens');
  if (!WEBSOCKET_VERSIONS.includes(String(headers['sec-websocket-version']))) {
    throw new MdlmError(ErrorCodes.upgradeRequired, `Sec-WebSocket-Version ${headers['sec-websocket-version'] ?? '(missing)'} is not supported; use 13`);
  }
}

function validSubprotocols(header: string | undefined): boolean {
  if (header === undefined) return true;
  const protocols = header.split(',').map((protocol) => protocol.trim());
  return protocols.every((protocol) => TOKEN.test(protocol)) && new Set(protocols).size === protocols.length;
}
