/**
 * Issue 3's sampler figures, all on the CPU provider of this machine:
 *  1. overhead: wall time per request ÷ the same forward passes timed directly with
 *     onnxruntime on this thread (each batch shape, i.e. positions drawn per row, that the
 *     requests used), owt width (D 768, 12 blocks, V 50258) at a reduced window; target
 *     ≤ 1.05 for ddpm_cache;
 *  2. the seed's wall-clock table as ratios: ddpm ÷ ddpm_cache at T = 5000 and 10000,
 *     L = 1024 with a narrow network (what differs between the samplers is the number of
 *     passes), beside the seed's 2.84× and 3.42×;
 *  3. throughput against concurrency: tokens/s and the batch sizes actually formed.
 *
 *   node --import tsx bench/sampler.ts            (≈ 6 min; BENCH_SECTIONS=overhead,seed,throughput picks sections)
 *   BENCH_QUICK=1 node --import tsx bench/sampler.ts   (smaller shapes, a minute)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type SynthShape, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel } from '../src/model/export.js';
import { readManifest } from '../src/model/manifest.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../src/runtime/index.js';
import { type SamplerName, type SamplingParams, expectedForwardPasses } from '../src/sampling/index.js';
import { type PassReport, Scheduler } from '../src/scheduler/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const work = mkdtempSync(join(tmpdir(), 'mdlm-sampler-bench-'));

async function prepare(name: string, shape: SynthShape): Promise<string> {
  const checkpoint = join(work, `${name}-checkpoint`);
  await synthesizeCheckpoint({ outDir: checkpoint, shape, seed: 1 });
  const exportDir = join(work, name);
  await exportModel({ checkpointDir: checkpoint, outDir: exportDir, head: 'sample' });
  rmSync(checkpoint, { recursive: true });
  return exportDir;
}

async function engine(exportDir: string, maxBatch = 16) {
  const manifest = await readManifest(exportDir);
  const runtime = await ForwardRuntime.start({ modelPath: join(exportDir, 'model.onnx'), device: 'cpu', providerOptions: ProviderOptionsSchema.parse({}), workers: 1 });
  const facts = { maskId: manifest.maskIndex, modelLength: manifest.config.model_length, timeConditioned: false };
  return { runtime, scheduler: new Scheduler(runtime, facts, { maxBatch, maxQueue: 1024, batchWaitMs: 0 }) };
}

function params(length: number, steps: number, sampler: SamplerName, seed: number): SamplingParams {
  return { length, steps, sampler, temperature: 1, prefix: [], suffix: [], seed };
}

/** Median time of session.run for one row of `length` tokens drawing `positions` tokens, on this thread. */
async function directPassMs(exportDir: string, length: number, positions: number, repeats = 15): Promise<number> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const feeds = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(length).fill(50257n), [1, length]),
    positions: new ort.Tensor('int64', BigInt64Array.from({ length: positions }, (_, i) => BigInt(i)), [1, positions]),
    uniforms: new ort.Tensor('float64', new Float64Array(positions).fill(0.5), [1, positions]),
    temperature: new ort.Tensor('float32', Float32Array.of(1), [1]),
  };
  await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  await session.release();
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)] as number;
}

const OWT_WIDTH = { vocab_size: 50258, hidden_dim: 768, cond_dim: 128, n_blocks: 12, n_heads: 12, time_conditioning: false };

async function overhead(): Promise<void> {
  const length = QUICK ? 32 : 64;
  const steps = QUICK ? 30 : 100;
  const exportDir = await prepare('owt-width', { ...OWT_WIDTH, model_length: length });
  const { runtime, scheduler } = await engine(exportDir);
  console.log(`\n## 1. Sampler overhead (owt width, L = ${length}, T = ${steps}, batch 1)\n`);
  console.log('| sampler | forward passes | wall ms | Σ worker compute ms | direct pass ms (same shapes) | wall ÷ Σ direct passes | wall ÷ Σ worker compute |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  await scheduler.submit({ params: params(length, steps, 'ddpm_cache', 99), numSamples: 1 });
  for (const sampler of ['ddpm_cache', 'ddpm'] as SamplerName[]) {
    let passes = 0;
    let wall = 0;
    let compute = 0;
    /** How many passes drew K positions per row: the reference times each shape that occurred. */
    const passesByK = new Map<number, number>();
    const onPass = (report: PassReport) => {
      passesByK.set(report.positionsPerRow, (passesByK.get(report.positionsPerRow) ?? 0) + 1);
      compute += report.computeMs;
    };
    scheduler.on('pass', onPass);
    for (let seed = 0; seed < 3; seed++) {
      const result = await scheduler.submit({ params: params(length, steps, sampler, seed), numSamples: 1 });
      passes += result.stats.forwardPasses;
      wall += result.stats.wallMs;
    }
    scheduler.off('pass', onPass);
    let reference = 0;
    for (const [positions, count] of passesByK) reference += count * (await directPassMs(exportDir, length, positions));
    console.log(
      `| ${sampler} | ${(passes / 3).toFixed(1)} | ${(wall / 3).toFixed(0)} | ${(compute / 3).toFixed(0)} | ${(reference / passes).toFixed(1)} | ${(wall / reference).toFixed(3)} | ${(wall / compute).toFixed(3)} |`,
    );
  }
  await runtime.close();
}

async function seedTable(): Promise<void> {
  const length = QUICK ? 256 : 1024;
  const exportDir = await prepare('narrow-1024', { vocab_size: 50258, model_length: length, hidden_dim: 32, cond_dim: 16, n_blocks: 2, n_heads: 2, time_conditioning: false });
  const { runtime, scheduler } = await engine(exportDir);
  const seedRatios: Record<number, number> = { 5000: 113.8 / 40.1, 10000: 206.6 / 60.4 };
  console.log(`\n## 2. ddpm ÷ ddpm_cache wall time (L = ${length}, D 32, batch 1) beside the seed's table\n`);
  console.log('| T | ddpm passes | ddpm_cache passes (expected) | ddpm s | ddpm_cache s | ratio | seed ratio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  await scheduler.submit({ params: params(length, 50, 'ddpm', 1), numSamples: 1 });
  for (const steps of QUICK ? [1000] : [5000, 10000]) {
    const ddpm = await scheduler.submit({ params: params(length, steps, 'ddpm', 7), numSamples: 1 });
    const cached = await scheduler.submit({ params: params(length, steps, 'ddpm_cache', 7), numSamples: 1 });
    const ratio = ddpm.stats.wallMs / cached.stats.wallMs;
    const expected = expectedForwardPasses(length, steps, 1e-5);
    console.log(
      `| ${steps} | ${ddpm.stats.forwardPasses} | ${cached.stats.forwardPasses} (${expected.toFixed(0)}) | ${(ddpm.stats.wallMs / 1000).toFixed(1)} | ${(cached.stats.wallMs / 1000).toFixed(1)} | ${ratio.toFixed(2)}× | ${seedRatios[steps]?.toFixed(2) ?? '–'}× |`,
    );
  }
  await runtime.close();
}

async function throughput(): Promise<void> {
  const length = QUICK ? 64 : 128;
  const steps = 100;
  const exportDir = await prepare('small-width', { vocab_size: 50258, model_length: length, hidden_dim: 256, cond_dim: 64, n_blocks: 4, n_heads: 4, time_conditioning: false });
  const { runtime, scheduler } = await engine(exportDir, 16);
  console.log(`\n## 3. Throughput against concurrency (D 256, 4 blocks, L = ${length}, ddpm_cache T = ${steps}, max batch 16)\n`);
  console.log('| concurrent requests | requests | tokens/s | mean batch | max batch |\n| ---: | ---: | ---: | ---: | ---: |');
  for (const concurrency of [1, 2, 4, 8, 16]) {
    const rows: number[] = [];
    const onPass = (report: PassReport) => rows.push(report.rows);
    scheduler.on('pass', onPass);
    const perClient = 2;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, client) => {
        for (let i = 0; i < perClient; i++) await scheduler.submit({ params: params(length, steps, 'ddpm_cache', client * 100 + i), numSamples: 1 });
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    scheduler.off('pass', onPass);
    const requests = concurrency * perClient;
    const meanBatch = rows.reduce((a, b) => a + b, 0) / rows.length;
    console.log(`| ${concurrency} | ${requests} | ${((requests * length) / seconds).toFixed(0)} | ${meanBatch.toFixed(2)} | ${Math.max(...rows)} |`);
  }
  await runtime.close();
}

/** BENCH_SECTIONS=overhead,seed,throughput picks sections (default: all). */
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'overhead,seed,throughput').split(','));
try {
  if (SECTIONS.has('overhead')) await overhead();
  if (SECTIONS.has('seed')) await seedTable();
  if (SECTIONS.has('throughput')) await throughput();
} finally {
  rmSync(work, { recursive: true, force: true });
}
