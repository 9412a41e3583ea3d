/**
 * Refusals that Node's HTTP server, Fastify and ws would make by themselves, and request
 * framing the server does not decode: over raw TCP, since no HTTP client sends these. Every
 * answer is the error envelope with a stable code and status.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RawResponse, rawExchange, rawRequest, startServer } from './helpers.js';

const server = await startServer();
const send = (request: string) => rawExchange(server.url, request);

function expectEnvelope(response: RawResponse, status: number, code: string, message: RegExp, param: string | null = null): void {
  assert.equal(response.status, status, response.body);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(response.body) as { error: { code: string; message: string; type: string; param: string | null } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', 'type', 'param']);
  assert.equal(body.error.code, code, response.body);
  assert.equal(body.error.param, param, response.body);
  assert.match(body.error.message, message);
}

const json = (path: string, body: string, headers: Record<string, string> = {}) =>
  rawRequest('POST', path, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }, body);
const upgrade = (path: string, headers: Record<string, string>) => rawRequest('GET', path, { connection: 'Upgrade', upgrade: 'websocket', ...headers });
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

test("requests Node's parser refuses: bad syntax, smuggling-prone framing, headers too large", async () => {
  expectEnvelope(await send('GET /healthz HTTP/1.1\r\nhost: x\r\nBad Header\r\n\r\n'), 400, 'bad_request', /not valid HTTP\/1\.1 \(Invalid header token\)/);
  expectEnvelope(await send('BR(W /healthz HTTP/1.1\r\nhost: x\r\n\r\n'), 400, 'bad_request', /Invalid method/);
  expectEnvelope(await send('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 400, 'bad_request', /not valid HTTP\/1\.1/);
  expectEnvelope(await send(rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'content-length': 'abc' }, '{}')), 400, 'bad_request', /Content-Length/);
  expectEnvelope(
    await send(rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'content-length': '2', 'transfer-encoding': 'chunked' }, '{}')),
    400,
    'bad_request',
    /Transfer-Encoding can't be present with Content-Length/,
  );
  expectEnvelope(await send(rawRequest('GET', '/healthz', { 'x-big': 'a'.repeat(20_000) })), 431, 'headers_too_large', /16 KiB/);
  expectEnvelope(await send('GET /healthz HTTP/1.1\r\n\r\n'), 400, 'bad_request', /needs a Host header/);
});

test('refusals Node and Fastify make before any route: an Expect it cannot meet, bad URLs, over-long parameters', async () => {
  expectEnvelope(await send(json('/v1/generate', '{"steps":2}', { expect: '200-ok' })), 417, 'expectation_failed', /Expect: 200-ok/);
  expectEnvelope(await send(rawRequest('GET', '/v1/%zz')), 400, 'bad_request', /URL is not valid/);
  expectEnvelope(await send(rawRequest('GET', `/v1/models/${'m'.repeat(150)}`)), 414, 'uri_too_long', /path parameter/);
});

test('the docs files: a path outside their folder is not found, an impossible range is 416', async () => {
  for (const path of ['/docs/static/../../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json']) {
    expectEnvelope(await send(rawRequest('GET', path)), 404, 'not_found', /no such file/);
  }
  expectEnvelope(await send(rawRequest('GET', '/docs/static/swagger-ui.css', { range: 'bytes=99999999-' })), 416, 'range_not_satisfiable', /Range/);
});

test('the WebSocket endpoint: plain HTTP is 426, a handshake ws would refuse is refused in the envelope, other routes do not upgrade', async () => {
  const plain = await send(rawRequest('GET', '/v1/stream'));
  expectEnvelope(plain, 426, 'upgrade_required', /WebSocket endpoint/);
  assert.equal(plain.headers.upgrade, 'websocket');
  expectEnvelope(await send(upgrade('/v1/stream', { 'sec-websocket-version': '13' })), 400, 'bad_request', /Sec-WebSocket-Key/);
  const version = await send(upgrade('/v1/stream', { 'sec-websocket-key': WS_KEY, 'sec-websocket-version': '99' }));
  expectEnvelope(version, 426, 'upgrade_required', /Version 99/);
  assert.equal(version.headers['sec-websocket-version'], '13');
  expectEnvelope(await send(upgrade('/v1/stream', { 'sec-websocket-key': WS_KEY, 'sec-websocket-version': '13', 'sec-websocket-protocol': 'a,,b' })), 400, 'bad_request', /Protocol/);
  expectEnvelope(await send(upgrade('/v1/generate', { 'sec-websocket-key': WS_KEY, 'sec-websocket-version': '13' })), 400, 'bad_request', /only GET \/v1\/stream/);
  expectEnvelope(await send(rawRequest('GET', '/healthz', { connection: 'Upgrade', upgrade: 'h2c' })), 400, 'bad_request', /cannot be upgraded \(to "h2c"\)/);
  const accepted = await send(upgrade('/v1/stream', { 'sec-websocket-key': WS_KEY, 'sec-websocket-version': '13' }));
  assert.equal(accepted.status, 101, 'a good handshake still upgrades');
});

test('codings the server does not decode are refused, not misread: gzip bodies, UTF-16, gzip transfer coding', async () => {
  const body = '{"steps":2}';
  expectEnvelope(await send(json('/v1/generate', body, { 'content-encoding': 'gzip' })), 415, 'unsupported_media_type', /Content-Encoding "gzip"/);
  expectEnvelope(await send(json('/v1/generate', body, { 'content-type': 'application/json; charset=utf-16' })), 415, 'unsupported_media_type', /charset "utf-16"/);
  const chunked = rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'transfer-encoding': 'gzip, chunked' }, `b\r\n${body}\r\n0\r\n\r\n`);
  expectEnvelope(await send(chunked), 501, 'not_implemented', /Transfer-Encoding "gzip, chunked"/);
  // What is supported still works: identity, UTF-8 by either name, plain chunked.
  const supported: Record<string, string>[] = [{ 'content-encoding': 'identity' }, { 'content-type': 'application/json; charset=UTF-8' }, { 'content-type': 'application/json; charset="utf8"' }];
  for (const headers of supported) {
    assert.equal((await send(json('/v1/generate', body, headers))).status, 200, JSON.stringify(headers));
  }
  const plainChunked = rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, `b\r\n${body}\r\n0\r\n\r\n`);
  assert.equal((await send(plainChunked)).status, 200);
});

test('__proto__ and constructor are valid JSON keys: refused as unknown fields, naming them', async () => {
  expectEnvelope(await send(json('/v1/generate', '{"steps":2,"__proto__":{"x":1}}')), 400, 'validation_error', /^__proto__: unknown field/, '__proto__');
  expectEnvelope(await send(json('/v1/generate', '{"constructor":{"prototype":{"x":1}}}')), 400, 'validation_error', /^constructor: unknown field/, 'constructor');
  expectEnvelope(
    await send(json('/v1/generate', '{"semi_ar":{"stride_length":4,"num_strides":1,"__proto__":{}}}')),
    400,
    'validation_error',
    /^semi_ar\.__proto__: unknown field/,
    'semi_ar.__proto__',
  );
  assert.equal(({} as { x?: number }).x, undefined, 'nothing reached a prototype');
});
