/**
 * A soak of the real CLI (`mdlm serve`, in its own process) on the tiny synthetic model: a
 * mixed load of /v1/generate, streamed /v1/completions and WebSocket requests, some clients
 * hanging up early, and the faults of issue 16 on a timer: requests sent by halves, WebSocket
 * readers that stall, a worker restart, and SIGTERM at the end. Seeded requests are compared
 * with reference outputs taken from the idle server first. Not a test: it prints what it saw.
 *
 *   node --import tsx bench/soak.ts [--duration 180] [--concurrency 8] [--workers 1]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { SYNTH_PRESETS } from '../src/checkpoint/synth.js';
import { main } from '../src/cli/main.js';
import { ForwardRuntime } from '../src/runtime/index.js';
import { benchExport, machineLine, memoryOf } from './support.js';

const SERVE_FLAG = '--soak-serve';
const Args = z.object({
  duration: z.coerce.number().positive().default(180),
  concurrency: z.coerce.number().int().positive().default(8),
  workers: z.coerce.number().int().positive().default(1),
});
type SoakArgs = z.infer<typeof Args>;

/** How often each fault comes round, in seconds. */
const HALF_SENT_EVERY_S = 10;
const HALF_SENT_CONNECTIONS = 20;
const STALLED_READER_EVERY_S = 30;
const RESTART_EVERY_S = 30;
const RSS_EVERY_S = 10;
/** Short transport timeouts, so that half-sent requests are reaped within the soak. */
const SERVER_FLAGS = ['--headers-timeout-ms', '1000', '--request-timeout-ms', '2000', '--shutdown-timeout-ms', '5000'];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const GENERATE = { steps: 32, num_samples: 2 };
const COMPLETION = { model: 'tiny', prompt: 'ba ko', max_tokens: 8 };

/** The server's side: the real CLI, plus the one fault the soak cannot cause from outside. */
async function serveWithFaults(exportDir: string, workers: string): Promise<void> {
  const runtimes: ForwardRuntime[] = [];
  const start = ForwardRuntime.start.bind(ForwardRuntime);
  ForwardRuntime.start = async (options) => {
    const runtime = await start(options);
    runtimes.push(runtime);
    return runtime;
  };
  // SIGUSR2 replaces worker 0 as a crash would: its pass in flight fails with worker_crashed.
  process.on('SIGUSR2', () => void runtimes[0]?.recycleWorker(0));
  process.exitCode = await main(['node', 'mdlm', 'serve', '--model', exportDir, '--port', '0', '--device', 'cpu', '--workers', workers, ...SERVER_FLAGS]);
}

/** What the soak counts. */
class Tally {
  readonly outcomes = new Map<string, number>();
  readonly rss: { atS: number; mb: number }[] = [];
  mismatches = 0;

  count(kind: string, outcome: string): void {
    const key = `${kind} ${outcome}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }
}

interface Server {
  child: ChildProcess;
  url: string;
  /** The server's warnings and errors, by message: read as they come, so its log never blocks on a full pipe. */
  warnings: Map<string, number>;
}

const WARN = 40;

async function startServer(exportDir: string, workers: number): Promise<Server> {
  const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, SERVE_FLAG, exportDir, String(workers)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const warnings = new Map<string, number>();
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before it listened`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as { level: number; msg: string; address?: string; err?: { message: string } };
      if (entry.address !== undefined) resolve({ child, url: entry.address, warnings });
      if (entry.level < WARN) return;
      // Numbers vary from line to line; the message's shape is what is counted.
      const key = [entry.msg, entry.err?.message].filter((part) => part !== undefined).join(': ').replace(/\d+(\.\d+)?/g, 'N');
      warnings.set(key, (warnings.get(key) ?? 0) + 1);
    });
  });
}

// --- the load ------------------------------------------------------------------------------

type Outcome = { ok: true; result: string } | { ok: false; code: string };

async function errorOutcome(response: Response): Promise<Outcome> {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
  return { ok: false, code: body.error?.code ?? `http_${response.status}` };
}

async function generate(url: string, seed: number, signal: AbortSignal): Promise<Outcome> {
  const response = await fetch(`${url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...GENERATE, seed }), signal });
  if (!response.ok) return errorOutcome(response);
  const body = (await response.json()) as { samples: { token_ids: number[] }[] };
  return { ok: true, result: JSON.stringify(body.samples.map((sample) => sample.token_ids)) };
}

/** A streamed completion, its chunks put back together. */
async function streamedCompletion(url: string, seed: number, signal: AbortSignal): Promise<Outcome> {
  const response = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...COMPLETION, seed, stream: true }), signal });
  if (!response.ok) return errorOutcome(response);
  const texts: string[] = [];
  for (const event of (await response.text()).split('\n\n').filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')) {
    const data = JSON.parse(event.slice('data: '.length)) as { error?: { code: string }; choices?: { index: number; text: string }[] };
    if (data.error !== undefined) return { ok: false, code: data.error.code };
    for (const choice of data.choices ?? []) texts[choice.index] = (texts[choice.index] ?? '') + choice.text;
  }
  return { ok: true, result: JSON.stringify(texts) };
}

async function completion(url: string, seed: number): Promise<Outcome> {
  const response = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...COMPLETION, seed }) });
  if (!response.ok) return errorOutcome(response);
  const body = (await response.json()) as { choices: { text: string }[] };
  return { ok: true, result: JSON.stringify(body.choices.map((choice) => choice.text)) };
}

/** One WebSocket request: its done message's tokens, or its error. Closing early cancels it. */
function streamed(url: string, seed: number, signal: AbortSignal): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
    signal.addEventListener('abort', () => socket.terminate(), { once: true });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'generate', id: 'soak', ...GENERATE, seed })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; samples?: { token_ids: number[] }[]; error?: { code: string } };
      if (message.type === 'done') resolve({ ok: true, result: JSON.stringify(message.samples?.map((sample) => sample.token_ids)) });
      else if (message.type === 'error') resolve({ ok: false, code: message.error?.code ?? 'error' });
      else return;
      socket.close();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed')));
  });
}

const KINDS = {
  generate: { run: generate, reference: 'generate' },
  sse: { run: streamedCompletion, reference: 'completion' },
  websocket: { run: streamed, reference: 'generate' },
} as const;
type Kind = keyof typeof KINDS;

/** Seeded outputs from the idle server, before any fault: what every later run must equal. */
async function references(url: string): Promise<Map<string, string>> {
  const expected = new Map<string, string>();
  for (const seed of SEEDS) {
    for (const [name, run] of [['generate', generate], ['completion', completion]] as const) {
      const outcome = await run(url, seed, AbortSignal.timeout(30_000));
      if (!outcome.ok) throw new Error(`reference ${name} ${seed} failed: ${outcome.code}`);
      expected.set(`${name} ${seed}`, outcome.result);
    }
  }
  return expected;
}

/** One client: random requests until the deadline; one in eight hangs up before its answer. */
async function client(url: string, deadline: number, expected: Map<string, string>, tally: Tally, random: () => number): Promise<void> {
  const kinds = Object.keys(KINDS) as Kind[];
  while (Date.now() < deadline) {
    const kind = kinds[Math.floor(random() * kinds.length)] as Kind;
    const seed = SEEDS[Math.floor(random() * SEEDS.length)] as number;
    const hangUp = random() < 1 / 8;
    const controller = new AbortController();
    if (hangUp) setTimeout(() => controller.abort(), 5 + random() * 50);
    try {
      const outcome = await KINDS[kind].run(url, seed, controller.signal);
      if (!outcome.ok) tally.count(kind, outcome.code);
      else if (outcome.result === expected.get(`${KINDS[kind].reference} ${seed}`)) tally.count(kind, 'ok');
      else {
        tally.mismatches++;
        tally.count(kind, 'MISMATCH');
      }
    } catch {
      tally.count(kind, hangUp ? 'hung up (by the client)' : 'transport error');
    }
  }
}

// --- the faults ----------------------------------------------------------------------------

/** Connections that send half a request: each should get 408 request_timeout, then be closed. */
async function halfSentRequests(url: string, tally: Tally): Promise<void> {
  const { port } = new URL(url);
  const halves = ['GET /healthz HTTP/1.1\r\nhost: soak\r\n', 'POST /v1/generate HTTP/1.1\r\nhost: soak\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ste'];
  await Promise.all(
    Array.from({ length: HALF_SENT_CONNECTIONS }, async (_, i) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.on('error', () => undefined);
      socket.write(halves[i % halves.length] as string);
      await once(socket, 'close');
      tally.count('half-sent', /^HTTP\/1\.1 408 [\s\S]*"request_timeout"/.test(received) ? '408 request_timeout' : `other: ${received.split('\r\n')[0] ?? 'nothing'}`);
    }),
  );
}

/** A masked client text frame (RFC 6455 §5.2), for a WebSocket client written by hand. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x81]), length, mask, payload.map((byte, i) => byte ^ (mask[i % 4] as number))]);
}

/** A WebSocket client that asks for a long stream of decoded steps and never reads them. */
function stalledReader(url: string, readers: Socket[]): void {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write('GET /v1/stream HTTP/1.1\r\nhost: soak\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  socket.write(clientFrame(JSON.stringify({ type: 'generate', id: 'stalled', steps: 5000, sampler: 'ddpm', num_samples: 4, decode_text: true })));
  socket.pause();
  readers.push(socket);
}

/** Runs `fault` every `seconds` until the deadline. */
function every(seconds: number, deadline: number, fault: () => unknown): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= deadline) {
        clearInterval(timer);
        resolve();
      } else void fault();
    }, seconds * 1000);
  });
}

// --- the run -------------------------------------------------------------------------------

/** mulberry32: the same mix of requests on every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function soak(args: SoakArgs): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mdlm-soak-'));
  try {
    const server = await startServer(await benchExport(work, 'tiny', SYNTH_PRESETS.tiny), args.workers);
    const pid = server.child.pid as number;
    const tally = new Tally();
    const expected = await references(server.url);
    const started = Date.now();
    const deadline = started + args.duration * 1000;
    const readers: Socket[] = [];
    const sampleRss = () => tally.rss.push({ atS: Math.round((Date.now() - started) / 1000), mb: memoryOf(pid).rss });
    sampleRss();
    await Promise.all([
      ...Array.from({ length: args.concurrency }, (_, i) => client(server.url, deadline, expected, tally, seededRandom(i + 1))),
      every(HALF_SENT_EVERY_S, deadline, () => halfSentRequests(server.url, tally)),
      every(STALLED_READER_EVERY_S, deadline, () => stalledReader(server.url, readers)),
      every(RESTART_EVERY_S, deadline, () => server.child.kill('SIGUSR2')),
      every(RSS_EVERY_S, deadline, sampleRss),
    ]);
    const counted = await serverOutcomes(server.url);
    const shutdown = await terminate(server, readers);
    report(args, tally, counted, shutdown, server.warnings);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** SIGTERM with the stalled readers still connected and not reading: how long the exit took, with which code. */
async function terminate(server: Server, readers: Socket[]): Promise<{ ms: number; code: number | null; readers: number }> {
  const began = Date.now();
  server.child.kill('SIGTERM');
  const [code] = (await once(server.child, 'exit')) as [number | null];
  const ms = Date.now() - began;
  for (const socket of readers) socket.destroy();
  return { ms, code, readers: readers.length };
}

/** The server's own count of requests by endpoint and outcome (mdlm_requests_total). */
async function serverOutcomes(url: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^mdlm_requests_total\{endpoint="([^"]+)",outcome="([^"]+)"\} (\d+)$/gm)].map(([, endpoint, outcome, count]) => `${endpoint} ${outcome}: ${count}`);
}

function report(args: SoakArgs, tally: Tally, counted: string[], shutdown: { ms: number; code: number | null; readers: number }, warnings: Map<string, number>): void {
  console.log(machineLine());
  console.log(`soak: ${args.duration} s, ${args.concurrency} clients, ${args.workers} worker(s), tiny model (V 64, L 32)`);
  console.log('| kind | outcome | count |');
  console.log('| --- | --- | ---: |');
  for (const [key, count] of [...tally.outcomes].sort()) {
    const [kind, ...outcome] = key.split(' ');
    console.log(`| ${kind} | ${outcome.join(' ')} | ${count} |`);
  }
  console.log(`mismatches against the seeded references: ${tally.mismatches}`);
  console.log(`the server's count (mdlm_requests_total): ${counted.join('; ')}`);
  console.log(`RSS (MB) by time (s): ${tally.rss.map(({ atS, mb }) => `${atS}:${mb}`).join(' ')}`);
  console.log(`SIGTERM with ${shutdown.readers} stalled readers connected: exit ${shutdown.code} after ${shutdown.ms} ms`);
  console.log(`the server's warnings and errors: ${[...warnings].map(([message, count]) => `${count} × ${message}`).join('; ')}`);
}

if (process.argv[2] === SERVE_FLAG) await serveWithFaults(process.argv[3] as string, process.argv[4] as string);
else await soak(Args.parse(parseArgs({ options: { duration: { type: 'string' }, concurrency: { type: 'string' }, workers: { type: 'string' } } }).values));
