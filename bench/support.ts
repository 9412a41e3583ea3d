/** What several benchmarks share: synthetic models exported the way the server loads them, flags, medians, the machine, a server in a child process. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { describeMachine } from '../src/benchmark/index.js';
import { GPT2_MDLM_VOCAB_SIZE, type SynthShape, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel } from '../src/families/index.js';

/** The offline GPT-2 tokenizer this repository carries, for models of GPT-2's vocabulary. */
export const GPT2_TOKENIZER_DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'gpt2');

/** A synthetic checkpoint of `shape`, exported with the positions head (and a tokenizer) under `work/name`. */
export async function benchExport(work: string, name: string, shape: SynthShape): Promise<string> {
  const checkpoint = join(work, `${name}-checkpoint`);
  await synthesizeCheckpoint({ outDir: checkpoint, shape, seed: 1 });
  const exportDir = join(work, name);
  const tokenizerDir = shape.vocab_size === GPT2_MDLM_VOCAB_SIZE ? GPT2_TOKENIZER_DIR : undefined;
  await exportModel({ checkpointDir: checkpoint, outDir: exportDir, head: 'positions', tokenizerDir });
  rmSync(checkpoint, { recursive: true });
  return exportDir;
}

/** A flag such as --length 64,128,256: a comma-separated list of positive integers. */
export const intList = z
  .string()
  .transform((text) => text.split(',').map(Number))
  .pipe(z.array(z.number().int().positive()).min(1));

/** The middle value (the upper middle of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

export interface ProcessMemory {
  rss: number;
  anon: number;
  file: number;
}

/** VmRSS, RssAnon and RssFile of a process (all its threads), in MB. */
export function memoryOf(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Math.round(Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024);
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

/** The part of autocannon's API the HTTP benches use (the package ships no types). */
export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: { url: string; method: string; headers: Record<string, string>; body: string; connections: number; duration: number }) => Promise<AutocannonResult>;
/** Loaded when first called: a dev dependency that the benches without HTTP do not need. */
export const autocannon: Autocannon = (options) => (createRequire(import.meta.url)('autocannon') as Autocannon)(options);

export interface ServerProcess {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts a server process (Node with `args`), its stderr passed through; resolves to its address
 * once it logs where it listens, rejects with its last `error` line if it exits first.
 */
export async function startServerProcess(args: readonly string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let lastError = '';
  createInterface({ input: child.stderr }).on('line', (line) => {
    process.stderr.write(`${line}\n`);
    if (line.startsWith('error')) lastError = line;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(lastError || `the server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const address = /"address":"([^"]+)"/.exec(line)?.[1];
      if (address !== undefined) resolve(address);
    });
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Sum and count of the scheduler's rows-per-pass histogram, from a server's /metrics. */
export async function batchRows(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('mdlm_batch_rows_sum'), count: value('mdlm_batch_rows_count') };
}

/** The machine a figure was measured on, with onnxruntime-node's version: every bench prints it with its tables. */
export function machineLine(): string {
  const ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  return `machine: ${describeMachine()}; onnxruntime-node ${ortVersion}`;
}
