import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { shutdownGracefully } from '../../src/server/index.js';
import { LONG_REQUEST, StreamClient, asError, postJson, rawRequest as rawHttp, startServer, tinyExport, waitFor } from './helpers.js';

// Built at the top level: a temporary directory made inside a test is removed when that test ends.
await tinyExport();

/** Generation requests that take a second or two on the tiny model. */
const MEDIUM_REQUEST = { steps: 2500, sampler: 'ddpm', seed: 3 } as const;

function rawRequest(method: string, path: string, body?: object): string {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return rawHttp(method, path, body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }, payload);
}

/** What each connection opened by openConnection has received. */
const received = new Map<Socket, string>();

/** A connection the server has certainly accepted: it answered `first` (a request, or the upgrade) on it. */
async function openConnection(url: string, first: string, expected: RegExp): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  received.set(socket, '');
  socket.on('data', (chunk: Buffer) => received.set(socket, `${received.get(socket)}${chunk.toString('latin1')}`));
  socket.on('error', () => undefined);
  socket.write(first);
  await waitFor(() => expected.test(received.get(socket) ?? ''), `an answer matching ${expected}`);
  return socket;
}

test('draining: running requests finish, new ones get shutting_down, /readyz says 503 on new connections too, then everything closes', async () => {
  const server = await startServer();
  const stream = await StreamClient.connect(server);
  const streamClosed = once(stream.socket, 'close');
  stream.send({ type: 'generate', id: 'running', ...MEDIUM_REQUEST });
  // Keep-alive connections: one with a request running, one idle.
  const busy = await openConnection(server.url, rawRequest('POST', '/v1/generate', MEDIUM_REQUEST), /^/);
  const idle = await openConnection(server.url, rawRequest('GET', '/healthz'), /"status":"ok"/);
  const [busyClosed, idleClosed] = [once(busy, 'close'), once(idle, 'close')];
  await waitFor(() => server.service.status().activeSequences === 2, 'both requests to run');

  const shutdown = shutdownGracefully(server.app, 30_000);
  stream.send({ type: 'generate', id: 'late', steps: 2 });
  // A probe opens a new connection: while the server drains it is answered, with 503.
  const probe = await fetch(`${server.url}/readyz`);
  assert.equal(probe.status, 503);
  assert.equal((await probe.json()).error.code, 'shutting_down');
  assert.equal(probe.headers.get('connection'), 'close', 'a draining server asks clients not to reuse their connections');
  assert.equal((await (await postJson(`${server.url}/v1/generate`, { steps: 2 })).json()).error.code, 'shutting_down');
  await idleClosed;

  assert.equal(await shutdown, true, 'everything finished before the deadline');
  await assert.rejects(fetch(`${server.url}/healthz`), 'once drained, new connections are refused');
  assert.equal((await stream.final('running')).type, 'done');
  assert.equal(asError(await stream.final('late')).error.code, 'shutting_down');
  const [closeCode] = await streamClosed;
  assert.equal(closeCode, 1001, 'the WebSocket closes as "going away"');
  await busyClosed;
  const answer = received.get(busy) ?? '';
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /"samples":\[\{"index":0/);
});

/**
 * What a load balancer does in the window before its next /readyz check: it sends a request on a
 * keep-alive connection it opened before the drain began, `afterMs` after it began.
 */
async function requestOnIdleConnection(drainDelayMs: number, afterMs: number): Promise<string> {
  const server = await startServer({ config: { drainDelayMs } });
  const idle = await openConnection(server.url, rawRequest('GET', '/healthz'), /"status":"ok"/);
  const closed = once(idle, 'close');
  const before = (received.get(idle) ?? '').length;
  const shutdown = shutdownGracefully(server.app, 30_000);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  idle.write(rawRequest('POST', '/v1/generate', { steps: 2 }));
  await closed;
  await shutdown;
  return (received.get(idle) ?? '').slice(before);
}

test('--drain-delay-ms: a request sent on an idle keep-alive connection after the drain began is answered 503 shutting_down, then the connection closes', async () => {
  const answer = await requestOnIdleConnection(1000, 50);
  assert.match(answer, /^HTTP\/1\.1 503 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /"code":"shutting_down"/);
  // Without the delay the connection is gone before the request: no answer at all, which a balancer cannot retry safely.
  assert.equal(await requestOnIdleConnection(0, 50), '');
});

const CLI = join(import.meta.dirname, 'cli-entry.ts');

interface ServeProcess {
  child: ChildProcess;
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** `mdlm serve` in its own process, once it says where it listens. */
async function serve(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const exportDir = await tinyExport();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--model', exportDir, '--device', 'cpu', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const logs: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (buffered + chunk.toString()).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const startup = () => logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('serving '));
  await Promise.race([
    waitFor(() => startup() !== undefined, 'the server to start', 30_000),
    exited.then((code) => Promise.reject(new Error(`mdlm serve exited with ${code}: ${stderr}`))),
  ]);
  return { child, url: startup()?.address as string, logs, exited };
}

/** Until the server's metrics show a sequence in progress. */
function untilRunning(serving: ServeProcess, headers: Record<string, string> = {}): Promise<void> {
  return waitFor(async () => /^mdlm_active_sequences 1$/m.test(await (await fetch(`${serving.url}/metrics`, { headers })).text()), 'the request to run');
}

test('mdlm serve: flags win over environment variables; SIGTERM lets the running request finish, then exits 0', async () => {
  const serving = await serve(['--port', '0', '--api-key', 'from-flag'], { MDLM_PORT: '1', MDLM_API_KEY: 'from-env', MDLM_LOG_LEVEL: 'info' });
  const startup = serving.logs.find((line) => line.address !== undefined) as Record<string, unknown>;
  assert.equal(startup.provider, 'cpu');
  assert.deepEqual(startup.fallbacks, []);
  assert.equal((startup.model as { id: string }).id, 'export-positions');
  assert.match(startup.msg as string, /^serving .*export-positions .*listening on http:\/\/127\.0\.0\.1:\d+; execution provider: cpu/);

  const generate = (key: string) => postJson(`${serving.url}/v1/generate`, MEDIUM_REQUEST, { headers: { authorization: `Bearer ${key}` } });
  assert.equal((await generate('from-env')).status, 401, 'the flag replaced the variable');
  const running = generate('from-flag');
  await untilRunning(serving, { authorization: 'Bearer from-flag' });
  serving.child.kill('SIGTERM');
  const response = await running;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).samples.length, 1);
  assert.equal(await serving.exited, 0);
  assert.ok(serving.logs.some((line) => line.msg === 'stopped' && line.finished_in_time === true));
});

test('mdlm serve: Ctrl-C drains too; past the deadline the request gets shutting_down, and the process still exits 0', async () => {
  // PORT and MDLM_SHUTDOWN_TIMEOUT_MS come from the environment alone.
  const serving = await serve([], { PORT: '0', MDLM_SHUTDOWN_TIMEOUT_MS: '300' });
  const running = postJson(`${serving.url}/v1/generate`, LONG_REQUEST);
  await untilRunning(serving);
  serving.child.kill('SIGINT');
  const response = await running;
  assert.equal(response.status, 503);
  assert.equal((await response.json()).error.code, 'shutting_down');
  assert.equal(await serving.exited, 0);
  assert.ok(serving.logs.some((line) => line.msg === 'stopped' && line.finished_in_time === false));
});

/** The upgrade request of a WebSocket client written by hand, so that it can stop reading. */
const UPGRADE = 'GET /v1/stream HTTP/1.1\r\nhost: test\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** SIGTERM, and the exit code; a process that does not exit in `ms` fails the test instead of hanging it. */
async function terminate(serving: ServeProcess, ms = 30_000): Promise<number | null> {
  serving.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      serving.child.kill('SIGKILL');
      reject(new Error(`mdlm serve did not exit within ${ms} ms of SIGTERM`));
    }, ms);
  });
  try {
    return await Promise.race([serving.exited, hung]);
  } finally {
    clearTimeout(timer);
  }
}

test('SIGTERM with a WebSocket client that never reads or answers its close: cut at the deadline, exit 0', async () => {
  const serving = await serve([], { PORT: '0', MDLM_SHUTDOWN_TIMEOUT_MS: '500' });
  const stalled = await openConnection(serving.url, UPGRADE, /^HTTP\/1\.1 101 /);
  stalled.pause();
  assert.equal(await terminate(serving), 0);
  assert.ok(serving.logs.some((line) => line.websockets === 1 && /did not answer the close/.test(line.msg as string)), 'the socket was cut');
  stalled.destroy();
});

test('SIGTERM with an HTTP request whose body never finishes: cut at the deadline, exit 0', async () => {
  const serving = await serve([], { PORT: '0', MDLM_SHUTDOWN_TIMEOUT_MS: '500' });
  const half = await openConnection(serving.url, 'GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n', /"status":"ok"/);
  half.write('POST /v1/generate HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ste');
  assert.equal(await terminate(serving), 0);
  assert.ok(serving.logs.some((line) => line.connections === 1 && /still open at the shutdown deadline/.test(line.msg as string)), 'the connection was cut');
  half.destroy();
});
