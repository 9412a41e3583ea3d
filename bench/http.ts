/**
 * HTTP throughput of the server on a tiny synthetic model (V 64, L 32): autocannon against
 * /v1/generate and /v1/completions at several concurrencies. The server runs in its own
 * process (this file, re-run with --bench-serve) so that the load generator does not share
 * its event loop. Prints requests/s, p50/p99 latency, non-2xx responses and the mean batch
 * size the scheduler formed.
 *
 *   node --import tsx bench/http.ts [--duration 3] [--concurrency 1,4,16,64] [--steps 64]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SYNTH_PRESETS, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { main } from '../src/cli/main.js';
import { exportModel } from '../src/model/export.js';
import { intList, machineLine } from './support.js';

const SERVE_FLAG = '--bench-serve';
const MODEL_ID = 'tiny';

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: { url: string; method: string; headers: Record<string, string>; body: string; connections: number; duration: number }) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const ArgsSchema = z.object({
  duration: z.coerce.number().positive().default(3),
  concurrency: intList.default([1, 4, 16, 64]),
  steps: z.coerce.number().int().positive().default(64),
});

async function serveChild(exportDir: string): Promise<void> {
  process.exitCode = await main(['node', 'mdlm', 'serve', '--model', exportDir, '--port', '0', '--device', 'cpu', '--max-queue', '1024']);
}

/** Starts the server process; resolves to its address once it logs where it listens. */
async function startServer(exportDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, SERVE_FLAG, exportDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    lines.on('line', (line) => {
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

/** Sum and count of the scheduler's rows-per-pass histogram. */
async function batchRows(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('mdlm_batch_rows_sum'), count: value('mdlm_batch_rows_count') };
}

async function bench(): Promise<void> {
  const args = ArgsSchema.parse(parseArgs({ options: { duration: { type: 'string' }, concurrency: { type: 'string' }, steps: { type: 'string' } } }).values);
  const work = mkdtempSync(join(tmpdir(), 'mdlm-http-bench-'));
  try {
    const checkpoint = join(work, 'checkpoint');
    const exportDir = join(work, MODEL_ID);
    await synthesizeCheckpoint({ outDir: checkpoint, shape: SYNTH_PRESETS.tiny, seed: 0 });
    await exportModel({ checkpointDir: checkpoint, outDir: exportDir, head: 'positions', fused: true });
    const server = await startServer(exportDir);
    const bodies = {
      '/v1/generate': { prompt: 'ba be', steps: args.steps },
      '/v1/completions': { model: MODEL_ID, prompt: 'ba be', max_tokens: 16, steps: args.steps },
    };
    console.log(machineLine());
    console.log(`tiny model (V 64, L 32), ${args.steps} steps (ddpm_cache), ${args.duration} s per row, server on the CPU`);
    console.log('| endpoint | concurrency | requests/s | p50 ms | p99 ms | non-2xx | errors | rows/pass |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    try {
      for (const [endpoint, body] of Object.entries(bodies)) {
        for (const connections of args.concurrency) {
          const before = await batchRows(server.url);
          const result = await autocannon({ url: `${server.url}${endpoint}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), connections, duration: args.duration });
          const after = await batchRows(server.url);
          const rows = (after.sum - before.sum) / Math.max(1, after.count - before.count);
          console.log(`| ${endpoint} | ${connections} | ${result.requests.average.toFixed(1)} | ${result.latency.p50} | ${result.latency.p99} | ${result.non2xx} | ${result.errors + result.timeouts} | ${rows.toFixed(1)} |`);
        }
      }
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === SERVE_FLAG) await serveChild(process.argv[3] as string);
else await bench();
