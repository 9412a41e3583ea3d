/**
 * The server's event-loop lag while full-size forward passes run: the kuleshov-group/mdlm-owt
 * shape (synthetic weights, 680 MB), a /v1/generate with length 1024 and a few steps, against
 * a baseline with no load. Meanwhile a separate process (this file, re-run with --bench-probe)
 * sends GET /healthz every 10 ms and times the answers. Prints lag and /healthz latency
 * percentiles per phase, and the forward-pass time.
 *
 *   MDLM_BENCH_OWT_DIR=DIR node --import tsx bench/event-loop-lag.ts [--steps 4] [--device cpu] [--idle-seconds 3]
 *
 * MDLM_BENCH_OWT_DIR keeps the synthetic checkpoint and its export between runs (default: a
 * temporary directory, removed after). Synthesis takes ~20 s, the export as long again.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SYNTH_PRESETS, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { GenerationService } from '../src/generation/index.js';
import { resolveModel } from '../src/hub/index.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../src/tokenizer/index.js';
import { createLogger } from '../src/log.js';
import { DEVICES } from '../src/runtime/index.js';
import { buildServer, parseServerConfig, schedulerOptions } from '../src/server/index.js';
import { machineLine } from './support.js';

const PROBE_FLAG = '--bench-probe';
const PROBE_INTERVAL_MS = 10;
const WARM_UP_MS = 1000;
const LENGTH = 1024;
const TOKENIZER_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE];
const GPT2_FIXTURE = join(import.meta.dirname, '..', 'test', 'fixtures', 'gpt2');

const ArgsSchema = z.object({
  steps: z.coerce.number().int().positive().default(4),
  device: z.enum(DEVICES).default('cpu'),
  idleSeconds: z.coerce.number().positive().default(3),
});

/** The probe process: GET /healthz every 10 ms; on each message, reports the latencies since the last. */
function probe(url: string): void {
  let latencies: number[] = [];
  setInterval(() => {
    const sent = performance.now();
    fetch(`${url}/healthz`).then(
      async (response) => {
        await response.arrayBuffer();
        latencies.push(performance.now() - sent);
      },
      () => latencies.push(Number.POSITIVE_INFINITY),
    );
  }, PROBE_INTERVAL_MS);
  process.on('message', () => {
    process.send?.(latencies);
    latencies = [];
  });
  process.once('disconnect', () => process.exit(0));
}

class Prober {
  private constructor(private readonly child: ChildProcess) {}

  /** Started, and warmed up: connections open and code compiled before anything is timed. */
  static async start(url: string): Promise<Prober> {
    const prober = new Prober(fork(import.meta.filename, [PROBE_FLAG, url], { execArgv: process.execArgv }));
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    await prober.take();
    return prober;
  }

  /** The latencies since the last call, in ms. */
  async take(): Promise<number[]> {
    this.child.send('take');
    const [latencies] = (await once(this.child, 'message')) as [number[]];
    return latencies;
  }

  stop(): void {
    this.child.disconnect();
  }
}

/** The owt-shape export, reused from MDLM_BENCH_OWT_DIR when it is there and current. */
async function owtExport(dir: string): Promise<string> {
  const checkpoint = join(dir, 'owt-checkpoint');
  if (!existsSync(join(checkpoint, 'model.safetensors'))) {
    console.error('synthesizing the owt-shape checkpoint...');
    await synthesizeCheckpoint({ outDir: checkpoint, shape: SYNTH_PRESETS.owt, seed: 0 });
    // GPT-2's tokenizer as the test fixture has it, so that nothing is fetched from the hub.
    for (const file of TOKENIZER_FILES) await copyFile(join(GPT2_FIXTURE, file), join(checkpoint, file));
  }
  console.error('exporting (or reusing the export)...');
  return (await resolveModel(checkpoint, { modelsDir: join(dir, 'models') })).exportDir;
}

function percentiles(values: number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return [at(0.5), at(0.99), sorted.at(-1) ?? Number.NaN];
}

interface PhaseResult {
  name: string;
  lag: IntervalHistogram;
  latencies: number[];
}

async function phase(name: string, prober: Prober, during: () => Promise<void>): Promise<PhaseResult> {
  await prober.take();
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  await during();
  lag.disable();
  return { name, lag, latencies: await prober.take() };
}

function row({ name, lag, latencies }: PhaseResult): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  const [p50, p99, max] = percentiles(latencies);
  return `| ${name} | ${ms(lag.percentile(50))} | ${ms(lag.percentile(99))} | ${ms(lag.max)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${max.toFixed(1)} | ${latencies.length} |`;
}

async function bench(): Promise<void> {
  const args = ArgsSchema.parse(parseArgs({ options: { steps: { type: 'string' }, device: { type: 'string' }, 'idle-seconds': { type: 'string' } } }).values);
  const keep = process.env.MDLM_BENCH_OWT_DIR;
  const work = keep ?? mkdtempSync(join(tmpdir(), 'mdlm-lag-bench-'));
  try {
    const exportDir = await owtExport(work);
    const config = parseServerConfig({ port: 0, device: args.device, logLevel: 'warn' });
    const service = await GenerationService.open({ exportDir, device: args.device, providerOptions: config.providerOptions, workers: 1, scheduler: schedulerOptions(config) });
    const passes: number[] = [];
    service.onPass((report) => passes.push(report.computeMs));
    const app = buildServer({ service, config, logger: createLogger({ level: 'warn' }), modelId: 'owt-shape' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const prober = await Prober.start(url);
    try {
      const idle = await phase('idle', prober, () => new Promise((resolve) => setTimeout(resolve, args.idleSeconds * 1000)));
      const request = { length: LENGTH, steps: args.steps, sampler: 'ddpm', seed: 0 };
      const loaded = await phase(`generating (L ${LENGTH}, ${args.steps + 1} passes)`, prober, async () => {
        const response = await fetch(`${url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
        if (response.status !== 200) throw new Error(`generation failed: ${await response.text()}`);
      });
      console.log(machineLine());
      console.log(`owt shape (V 50258, L ${LENGTH}, D 768, 12 blocks), fp32, ${service.status().provider} execution provider, 1 worker; /healthz every ${PROBE_INTERVAL_MS} ms from another process`);
      console.log('| phase | lag p50 ms | lag p99 ms | lag max ms | /healthz p50 ms | /healthz p99 ms | /healthz max ms | probes |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      console.log(row(idle));
      console.log(row(loaded));
      const [p50, , max] = percentiles(passes);
      console.log(`forward pass (L ${LENGTH}, 1 row): median ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms over ${passes.length} passes`);
    } finally {
      prober.stop();
      await app.close();
      await service.close();
    }
  } finally {
    if (keep === undefined) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === PROBE_FLAG) probe(process.argv[3] as string);
else await bench();
