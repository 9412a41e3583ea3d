/**
 * Requests sent by halves cannot pile up: headers and whole requests must arrive in time, and
 * idle keep-alive connections are closed. Over raw TCP, with short timeouts; the bounds the
 * test waits within are generous, the timeouts themselves are what is measured.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { test } from 'node:test';
import { rawExchange, rawRequest, startServer, waitFor } from './helpers.js';

const server = await startServer({ config: { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 } });
const port = Number(new URL(server.url).port);

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

function expectTimeout(body: string): void {
  const error = (JSON.parse(body) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'request_timeout');
  assert.match(error.message, /--request-timeout-ms/);
}

test('headers that never end get 408 request_timeout in the envelope, and the connection is closed', async () => {
  const started = performance.now();
  const response = await rawExchange(server.url, 'GET /healthz HTTP/1.1\r\nhost: test\r\nx-slow: 1\r\n');
  assert.equal(response.status, 408);
  assert.equal(response.headers.connection, 'close');
  expectTimeout(response.body);
  assert.ok(performance.now() - started >= 250, 'not before the headers timeout');
});

test('a body that never ends gets 408 once the whole request is overdue', async () => {
  const response = await rawExchange(server.url, rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'content-length': '100' }, '{"ste'));
  assert.equal(response.status, 408);
  expectTimeout(response.body);
});

test('half-sent requests do not pile up: every such connection is closed', async () => {
  const sockets: Socket[] = Array.from({ length: 20 }, (_, i) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(i % 2 === 0 ? 'GET /healthz HTTP/1.1\r\nhost: t\r\n' : rawRequest('POST', '/v1/generate', { 'content-type': 'application/json', 'content-length': '50' }, '{'));
    return socket;
  });
  await waitFor(async () => (await openConnections()) >= 20, 'the server to accept them all');
  await waitFor(async () => (await openConnections()) === 0, 'the server to close them all', 20_000);
  for (const socket of sockets) socket.destroy();
});

test('an idle keep-alive connection is closed after --keep-alive-timeout-ms', async () => {
  const socket = connect(port, '127.0.0.1');
  socket.setTimeout(15_000, () => socket.destroy(new Error('the server kept the idle connection open')));
  const closed = once(socket, 'close');
  let received = '';
  let answeredAt = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
    answeredAt ||= performance.now();
  });
  socket.write(rawRequest('GET', '/healthz'));
  await closed;
  assert.match(received, /^HTTP\/1\.1 200 /);
  // Kept alive, then closed for idling: not a connection closed with its response.
  assert.doesNotMatch(received, /^connection: close/im);
  assert.ok(performance.now() - answeredAt >= 250, `closed ${performance.now() - answeredAt} ms after the response, before the 300 ms keep-alive timeout`);
});
