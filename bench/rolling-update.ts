/**
 * A rolling update as a Kubernetes Deployment does it, on loopback: replicas of the real CLI
 * (`node bin/mdlm.js serve`, tiny synthetic model) behind HAProxy from Debian, which checks
 * /readyz every 500 ms and retries a 503 or a refused connection on another replica. Clients
 * send a mixed load (generate, streamed completions over SSE, WebSocket streams, score) while
 * the replicas are replaced one at a time: SIGTERM, wait for the exit, start a new one on the
 * same port, wait until HAProxy sends it traffic. Every seeded answer is compared with the same
 * request answered first by one idle replica. Not a test: it prints what it saw (test/deploy/
 * runs it briefly and asserts on it). Needs `dist/` (npm run build) and haproxy on the PATH.
 *
 *   node --import tsx bench/rolling-update.ts [--rolls 30] [--replicas 3] [--concurrency 6] [--drain-delay-ms 1500] [--json]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { SYNTH_PRESETS } from '../src/checkpoint/synth.js';
import { benchExport } from './support.js';

const CLI = join(import.meta.dirname, '..', 'bin', 'mdlm.js');

export const RollOptionsSchema = z.object({
  replicas: z.coerce.number().int().min(2).default(3),
  /** Replacements of one replica each: replicas × n is n whole rollouts. */
  rolls: z.coerce.number().int().min(1).default(30),
  concurrency: z.coerce.number().int().min(1).default(6),
  drainDelayMs: z.coerce.number().int().min(0).default(1500),
  /** HAProxy's health-check interval (inter), as in the issue's setup. */
  checkIntervalMs: z.coerce.number().int().min(100).default(500),
  /** Load before the first roll: the latency without one. */
  steadySeconds: z.coerce.number().min(0).default(5),
});
export type RollOptions = z.infer<typeof RollOptionsSchema>;

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const GENERATE = { steps: 32, num_samples: 2 };
const COMPLETION = { model: 'tiny', prompt: 'ba ko', max_tokens: 8 };
const SCORE = { items: [{ text: 'ba ko ba ko' }], mc_samples: 4 };
/** Refusals that say "try again", and that a retry through the balancer must then serve. */
const RETRYABLE = new Set(['shutting_down', 'overloaded', 'worker_unavailable']);
const ATTEMPTS = 5;

// --- replicas and the balancer -------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

interface Replica {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** `mdlm serve` on `port`, once it says it listens. Its log is read as it comes, so the pipe never fills. */
async function startReplica(exportDir: string, port: number, options: RollOptions): Promise<Replica> {
  const args = [
    CLI,
    'serve',
    '--model',
    exportDir,
    '--port',
    String(port),
    '--device',
    'cpu',
    '--drain-delay-ms',
    String(options.drainDelayMs),
    '--shutdown-timeout-ms',
    '10000',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('"address"')) resolve();
    });
  });
  await Promise.race([listening, exited.then((code) => Promise.reject(new Error(`mdlm serve exited with ${code}: ${stderr}`)))]);
  return { child, exited };
}

function haproxyConfig(port: number, replicaPorts: number[], socket: string, options: RollOptions): string {
  return [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 60s',
    // Retries need the whole request at hand: small bodies are buffered before a replica is chosen.
    '  option http-buffer-request',
    '  retries 3',
    '  retry-on 503 conn-failure',
    '  option redispatch 1',
    'frontend mdlm',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    '  option httpchk',
    '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr host mdlm',
    '  http-check expect status 200',
    `  default-server check inter ${options.checkIntervalMs} fall 1 rise 1`,
    ...replicaPorts.map((replicaPort, i) => `  server r${i} 127.0.0.1:${replicaPort}`),
    '',
  ].join('\n');
}

/** One command on HAProxy's stats socket, and its answer. */
async function haproxyCommand(socketPath: string, command: string): Promise<string> {
  const socket = connect(socketPath);
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.write(`${command}\n`);
  await once(socket, 'close');
  return answer;
}

/** The replicas HAProxy sends traffic to now (status UP; the backend's own row left out). */
async function replicasUp(socketPath: string): Promise<Set<string>> {
  const lines = (await haproxyCommand(socketPath, 'show stat')).split('\n');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const [name, proxy, status] = ['svname', 'pxname', 'status'].map((column) => header.indexOf(column)) as [number, number, number];
  return new Set(
    lines
      .slice(1)
      .map((line) => line.split(','))
      .filter((cells) => cells[proxy] === 'replicas' && cells[name] !== 'BACKEND' && cells[status] === 'UP')
      .map((cells) => cells[name] as string),
  );
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// --- the load ------------------------------------------------------------------------------

/** One attempt: a seeded answer, a refusal that asks for a retry, or a failure (what a client must never see). */
type Attempt = { kind: 'ok'; result: string } | { kind: 'retry'; code: string } | { kind: 'failed'; why: string };

async function refusal(response: Response): Promise<Attempt> {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
  const code = body.error?.code ?? `http_${response.status}`;
  return response.status === 503 && RETRYABLE.has(code) ? { kind: 'retry', code } : { kind: 'failed', why: `${response.status} ${code}` };
}

function post(url: string, path: string, body: object): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function generate(url: string, seed: number): Promise<Attempt> {
  const response = await post(url, '/v1/generate', { ...GENERATE, seed });
  if (!response.ok) return refusal(response);
  const body = (await response.json()) as { samples: { token_ids: number[] }[] };
  return { kind: 'ok', result: JSON.stringify(body.samples.map((sample) => sample.token_ids)) };
}

async function score(url: string, seed: number): Promise<Attempt> {
  const response = await post(url, '/v1/score', { ...SCORE, seed });
  if (!response.ok) return refusal(response);
  const body = (await response.json()) as { items: { nll: number }[] };
  return { kind: 'ok', result: JSON.stringify(body.items.map((item) => item.nll)) };
}

async function completion(url: string, seed: number): Promise<Attempt> {
  const response = await post(url, '/v1/completions', { ...COMPLETION, seed });
  if (!response.ok) return refusal(response);
  const body = (await response.json()) as { choices: { text: string }[] };
  return { kind: 'ok', result: JSON.stringify(body.choices.map((choice) => choice.text)) };
}

/** A streamed completion: its chunks put back together, and it must end with `data: [DONE]`. */
async function sse(url: string, seed: number): Promise<Attempt> {
  const response = await post(url, '/v1/completions', { ...COMPLETION, seed, stream: true });
  if (!response.ok) return refusal(response);
  const events = (await response.text()).split('\n\n').filter((event) => event.startsWith('data: '));
  if (events.at(-1) !== 'data: [DONE]') return { kind: 'failed', why: 'SSE stream ended without [DONE]' };
  const texts: string[] = [];
  for (const event of events.slice(0, -1)) {
    const data = JSON.parse(event.slice('data: '.length)) as { error?: { code: string }; choices?: { index: number; text: string }[] };
    if (data.error !== undefined)
      return RETRYABLE.has(data.error.code) ? { kind: 'retry', code: data.error.code } : { kind: 'failed', why: `SSE error ${data.error.code}` };
    for (const choice of data.choices ?? []) texts[choice.index] = (texts[choice.index] ?? '') + choice.text;
  }
  return { kind: 'ok', result: JSON.stringify(texts) };
}

/** One request on a new WebSocket: it must end with its done message (or a retryable error) before the socket closes. */
function websocket(url: string, seed: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
    let settled = false;
    const settle = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      resolve(attempt);
      socket.close();
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'generate', id: 'roll', ...GENERATE, seed })));
    socket.on('unexpected-response', (_request, response) =>
      settle(response.statusCode === 503 ? { kind: 'retry', code: 'http_503' } : { kind: 'failed', why: `upgrade answered ${response.statusCode}` }),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; samples?: { token_ids: number[] }[]; error?: { code: string } };
      if (message.type === 'done') settle({ kind: 'ok', result: JSON.stringify(message.samples?.map((sample) => sample.token_ids)) });
      else if (message.type === 'error') {
        const code = message.error?.code ?? 'error';
        settle(RETRYABLE.has(code) ? { kind: 'retry', code } : { kind: 'failed', why: `WebSocket error ${code}` });
      }
    });
    socket.on('error', (error) => settle({ kind: 'failed', why: `WebSocket ${error.message}` }));
    socket.on('close', (code) => settle({ kind: 'failed', why: `WebSocket closed (${code}) before its final message` }));
  });
}

const KINDS = {
  generate: { run: generate, reference: generate },
  sse: { run: sse, reference: completion },
  websocket: { run: websocket, reference: generate },
  score: { run: score, reference: score },
} as const;
type Kind = keyof typeof KINDS;
const KIND_NAMES = Object.keys(KINDS) as Kind[];

async function attempt(kind: Kind, url: string, seed: number): Promise<Attempt> {
  try {
    return await KINDS[kind].run(url, seed);
  } catch (error) {
    return {
      kind: 'failed',
      why: `${kind}: ${(error as Error).message}${(error as { cause?: Error }).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`,
    };
  }
}

/** Seeded answers from one idle replica, before any roll: what every later answer must equal. */
async function references(url: string): Promise<Map<string, string>> {
  const expected = new Map<string, string>();
  for (const seed of SEEDS) {
    for (const kind of KIND_NAMES) {
      const outcome = await KINDS[kind].reference(url, seed);
      if (outcome.kind !== 'ok') throw new Error(`reference ${kind} ${seed}: ${JSON.stringify(outcome)}`);
      expected.set(`${kind} ${seed}`, outcome.result);
    }
  }
  return expected;
}

/** One logical request as a client sees it: retried on a retryable refusal, up to ATTEMPTS tries. */
interface Request {
  kind: Kind;
  duringRoll: boolean;
  ms: number;
  retries: number;
  /** Why it failed; undefined when it was answered, and answered right. */
  failure?: string;
}

class Load {
  readonly requests: Request[] = [];
  rolling = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly expected: Map<string, string>,
  ) {}

  run(concurrency: number): Promise<void[]> {
    return Promise.all(Array.from({ length: concurrency }, (_, client) => this.client(client)));
  }

  stop(): void {
    this.stopped = true;
  }

  private async client(index: number): Promise<void> {
    for (let n = index; !this.stopped; n++) {
      const kind = KIND_NAMES[n % KIND_NAMES.length] as Kind;
      const seed = SEEDS[(n * 7 + index) % SEEDS.length] as number;
      this.requests.push(await this.request(kind, seed));
    }
  }

  private async request(kind: Kind, seed: number): Promise<Request> {
    const duringRoll = this.rolling;
    const started = performance.now();
    let retries = 0;
    for (;;) {
      const outcome = await attempt(kind, this.url, seed);
      const ms = performance.now() - started;
      if (outcome.kind === 'ok') {
        const failure = outcome.result === this.expected.get(`${kind} ${seed}`) ? undefined : `${kind} seed ${seed}: a different answer`;
        return { kind, duringRoll: duringRoll || this.rolling, ms, retries, failure };
      }
      if (outcome.kind === 'failed') return { kind, duringRoll: duringRoll || this.rolling, ms, retries, failure: outcome.why };
      if (++retries === ATTEMPTS)
        return { kind, duringRoll: duringRoll || this.rolling, ms, retries, failure: `still ${outcome.code} after ${ATTEMPTS} tries` };
    }
  }
}

// --- the run -------------------------------------------------------------------------------

export interface RollReport {
  options: RollOptions;
  machine: string;
  rolls: number;
  /** Seconds each replacement took, SIGTERM to the new replica taking traffic. */
  rollSeconds: number[];
  requests: { steady: number; duringRoll: number };
  byKind: Record<Kind, number>;
  /** Requests refused with a retryable 503 at least once, and then served by a retry. */
  retried: number;
  failures: string[];
  latencyMs: { steady: { p50: number; p99: number }; duringRoll: { p50: number; p99: number } };
  /** Exit codes of the replicas that were replaced. */
  exitCodes: (number | null)[];
}

export async function rollingUpdate(options: RollOptions): Promise<RollReport> {
  if (spawnSync('haproxy', ['-v']).error !== undefined)
    throw new Error("haproxy is not installed: apt-get install haproxy (it is on the README's install line)");
  const work = mkdtempSync(join(tmpdir(), 'mdlm-roll-'));
  const replicas: Replica[] = [];
  let haproxy: Replica | undefined;
  try {
    const exportDir = await benchExport(work, 'tiny', SYNTH_PRESETS.tiny);
    const ports = await Promise.all(Array.from({ length: options.replicas }, freePort));
    for (const port of ports) replicas.push(await startReplica(exportDir, port, options));
    const expected = await references(`http://127.0.0.1:${ports[0]}`);

    const lbPort = await freePort();
    const socket = join(work, 'haproxy.sock');
    writeFileSync(join(work, 'haproxy.cfg'), haproxyConfig(lbPort, ports, socket, options));
    const balancer = spawn('haproxy', ['-f', join(work, 'haproxy.cfg'), '-db'], { stdio: 'ignore' });
    haproxy = { child: balancer, exited: once(balancer, 'exit').then(([code]) => code as number | null) };
    await until(async () => (await replicasUp(socket)).size === options.replicas, 'HAProxy to see every replica up');

    const load = new Load(`http://127.0.0.1:${lbPort}`, expected);
    const running = load.run(options.concurrency);
    await sleep(options.steadySeconds * 1000);
    load.rolling = true;
    const rollSeconds: number[] = [];
    const exitCodes: (number | null)[] = [];
    for (let roll = 0; roll < options.rolls; roll++) {
      const index = roll % options.replicas;
      const began = performance.now();
      const old = replicas[index] as Replica;
      old.child.kill('SIGTERM');
      exitCodes.push(await old.exited);
      replicas[index] = await startReplica(exportDir, ports[index] as number, options);
      await until(async () => (await replicasUp(socket)).has(`r${index}`), `HAProxy to take r${index} back`);
      rollSeconds.push((performance.now() - began) / 1000);
    }
    load.rolling = false;
    load.stop();
    await running;
    return report(options, load.requests, rollSeconds, exitCodes);
  } finally {
    const children = haproxy === undefined ? replicas : [haproxy, ...replicas];
    for (const { child } of children) child.kill('SIGKILL');
    await Promise.all(children.map((started) => started.exited));
    rmSync(work, { recursive: true, force: true });
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
}

function report(options: RollOptions, requests: Request[], rollSeconds: number[], exitCodes: (number | null)[]): RollReport {
  const during = requests.filter((request) => request.duringRoll);
  const steady = requests.filter((request) => !request.duringRoll);
  const latency = (set: Request[]) => ({
    p50: percentile(
      set.map((request) => request.ms),
      50,
    ),
    p99: percentile(
      set.map((request) => request.ms),
      99,
    ),
  });
  return {
    options,
    machine: describeMachine(),
    rolls: rollSeconds.length,
    rollSeconds,
    requests: { steady: steady.length, duringRoll: during.length },
    byKind: Object.fromEntries(KIND_NAMES.map((kind) => [kind, requests.filter((request) => request.kind === kind).length])) as Record<Kind, number>,
    retried: requests.filter((request) => request.retries > 0 && request.failure === undefined).length,
    failures: requests.flatMap((request) => (request.failure === undefined ? [] : [request.failure])),
    latencyMs: { steady: latency(steady), duringRoll: latency(during) },
    exitCodes,
  };
}

/** The CPU model, cores and vector extensions (bench/support.ts has no such helper yet). */
function describeMachine(): string {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
  const extensions = ['avx2', 'avx512f', 'avx512_vnni'].filter((flag) => flags.has(flag));
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${extensions.join(' ') || 'no AVX2'}`;
}

function printReport(roll: RollReport): void {
  const { options } = roll;
  console.log(
    `rolling update: ${options.replicas} replicas behind HAProxy (checks every ${options.checkIntervalMs} ms, retry-on 503 conn-failure), ${options.concurrency} clients, --drain-delay-ms ${options.drainDelayMs}`,
  );
  console.log(`machine: ${roll.machine}`);
  console.log(
    `${roll.rolls} replacements, ${(roll.rollSeconds.reduce((sum, s) => sum + s, 0) / roll.rolls).toFixed(1)} s each on average (SIGTERM to taking traffic); replica exit codes: ${[...new Set(roll.exitCodes)].join(', ')}`,
  );
  console.log('| phase | requests | p50 ms | p99 ms |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(`| steady | ${roll.requests.steady} | ${roll.latencyMs.steady.p50} | ${roll.latencyMs.steady.p99} |`);
  console.log(`| during the roll | ${roll.requests.duringRoll} | ${roll.latencyMs.duringRoll.p50} | ${roll.latencyMs.duringRoll.p99} |`);
  console.log(`by kind: ${KIND_NAMES.map((kind) => `${kind} ${roll.byKind[kind]}`).join(', ')}`);
  console.log(`refused with a retryable 503 and then served by a retry: ${roll.retried}`);
  console.log(
    `failures (lost, wrong or unfinished): ${roll.failures.length}${roll.failures.length === 0 ? '' : `: ${[...new Set(roll.failures)].join('; ')}`}`,
  );
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      replicas: { type: 'string' },
      rolls: { type: 'string' },
      concurrency: { type: 'string' },
      'drain-delay-ms': { type: 'string' },
      'check-interval-ms': { type: 'string' },
      'steady-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const options = RollOptionsSchema.parse({
    replicas: values.replicas,
    rolls: values.rolls,
    concurrency: values.concurrency,
    drainDelayMs: values['drain-delay-ms'],
    checkIntervalMs: values['check-interval-ms'],
    steadySeconds: values['steady-seconds'],
  });
  const roll = await rollingUpdate(options);
  if (values.json) console.log(JSON.stringify(roll));
  else printReport(roll);
}
