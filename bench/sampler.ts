/**
 * The sampler figures, all on the CPU provider of this machine:
 *  1. overhead: wall time per request ÷ Σ session.run time of the same passes measured in the
 *     worker, owt width (D 768, 12 blocks, V 50258) at a reduced window; target ≤ 1.05 for
 *     ddpm_cache. The same pass shapes are also timed directly on this thread, for reference;
 *  2. the seed's wall-clock table as ratios: ddpm ÷ ddpm_cache at T = 5000 and 10000,
 *     L = 1024 with a narrow network (what differs between the samplers is the number of
 *     passes), beside the seed's 2.84× and 3.42×;
 *  3. throughput against concurrency: tokens/s and the batch sizes actually formed;
 *  4. every sampler at L = 1024, T = 1024 (ReMDM's setting), each with its published settings
 *     (the ReMDM samplers with nucleus p = 0.9): forward passes and wall time per sample, as
 *     ratios to ddpm_cache, on the same narrow network as section 2.
 *
 *   node --import tsx bench/sampler.ts            (≈ 8 min; BENCH_SECTIONS=overhead,seed,throughput,samplers picks sections)
 *   BENCH_QUICK=1 node --import tsx bench/sampler.ts   (smaller shapes, a minute)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { SynthShape } from '../src/checkpoint/synth.js';
import { GenerationService } from '../src/generation/index.js';
import { packFeeds } from '../src/runtime/feeds.js';
import { ProviderOptionsSchema } from '../src/runtime/index.js';
import { REMDM_DEFAULTS, SAMPLERS, type SamplerName, expectedForwardPasses, isRemasking } from '../src/sampling/index.js';
import type { PassReport } from '../src/scheduler/index.js';
import { benchExport, machineLine, median } from './support.js';

const QUICK = process.env.BENCH_QUICK === '1';
const work = mkdtempSync(join(tmpdir(), 'mdlm-sampler-bench-'));

async function openService(exportDir: string, maxBatch = 16): Promise<GenerationService> {
  return GenerationService.open({
    exportDir,
    device: 'cpu',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    scheduler: { maxBatch, maxBatchEntries: 4096, maxQueue: 1024, batchWaitMs: 0 },
  });
}

async function generate(service: GenerationService, length: number, steps: number, sampler: SamplerName, seed: number, topP?: number) {
  return service.generate(service.prepare({ length, steps, sampler, seed, topP }));
}

/** Median time of session.run for one row of `length` tokens drawing `draws` tokens, on this thread. */
async function directPassMs(exportDir: string, length: number, draws: number, repeats = 15): Promise<number> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const row = { tokens: new Int32Array(length).fill(50257), sigma: 0, draws: { positions: Int32Array.from({ length: draws }, (_, i) => i), uniforms: new Float64Array(draws).fill(0.5), temperature: 1, topP: 1, topK: 0 } };
  const packed = packFeeds([row], false).feeds;
  const feeds = Object.fromEntries(Object.entries(packed).map(([name, feed]) => [name, new ort.Tensor(feed.type, feed.data, feed.dims)]));
  await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  await session.release();
  return median(times);
}

const OWT_WIDTH: Omit<SynthShape, 'model_length'> = { vocab_size: 50258, hidden_dim: 768, cond_dim: 128, n_blocks: 12, n_heads: 12, time_conditioning: false };

async function overhead(): Promise<void> {
  const length = QUICK ? 32 : 64;
  const steps = QUICK ? 30 : 100;
  const exportDir = await benchExport(work, 'owt-width', { ...OWT_WIDTH, model_length: length });
  const service = await openService(exportDir);
  console.log(`\n## 1. Sampler overhead (owt width, L = ${length}, T = ${steps}, batch 1)\n`);
  console.log('| sampler | forward passes | wall ms | Σ worker compute ms | direct pass ms (same shapes) | wall ÷ Σ direct passes | wall ÷ Σ worker compute |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  await generate(service, length, steps, 'ddpm_cache', 99);
  for (const sampler of ['ddpm_cache', 'ddpm'] as SamplerName[]) {
    let passes = 0;
    let wall = 0;
    let compute = 0;
    /** How many passes drew K tokens (padding counts as one): the reference times each shape that occurred. */
    const passesByDraws = new Map<number, number>();
    const detach = service.onPass((report: PassReport) => {
      const draws = Math.max(1, report.draws);
      passesByDraws.set(draws, (passesByDraws.get(draws) ?? 0) + 1);
      compute += report.computeMs;
    });
    for (let seed = 0; seed < 3; seed++) {
      const result = await generate(service, length, steps, sampler, seed);
      passes += result.stats.forwardPasses;
      wall += result.stats.wallMs;
    }
    detach();
    let reference = 0;
    for (const [draws, count] of passesByDraws) reference += count * (await directPassMs(exportDir, length, draws));
    console.log(
      `| ${sampler} | ${(passes / 3).toFixed(1)} | ${(wall / 3).toFixed(0)} | ${(compute / 3).toFixed(0)} | ${(reference / passes).toFixed(1)} | ${(wall / reference).toFixed(3)} | ${(wall / compute).toFixed(3)} |`,
    );
  }
  await service.close();
}

async function seedTable(): Promise<void> {
  const length = QUICK ? 256 : 1024;
  const exportDir = await benchExport(work, 'narrow-1024', { vocab_size: 50258, model_length: length, hidden_dim: 32, cond_dim: 16, n_blocks: 2, n_heads: 2, time_conditioning: false });
  const service = await openService(exportDir);
  const seedRatios: Record<number, number> = { 5000: 113.8 / 40.1, 10000: 206.6 / 60.4 };
  console.log(`\n## 2. ddpm ÷ ddpm_cache wall time (L = ${length}, D 32, batch 1) beside the seed's table\n`);
  console.log('| T | ddpm passes | ddpm_cache passes (expected) | ddpm s | ddpm_cache s | ratio | seed ratio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  await generate(service, length, 50, 'ddpm', 1);
  for (const steps of QUICK ? [1000] : [5000, 10000]) {
    const ddpm = await generate(service, length, steps, 'ddpm', 7);
    const cached = await generate(service, length, steps, 'ddpm_cache', 7);
    const ratio = ddpm.stats.wallMs / cached.stats.wallMs;
    const expected = expectedForwardPasses(length, steps, 1e-5);
    console.log(
      `| ${steps} | ${ddpm.stats.forwardPasses} | ${cached.stats.forwardPasses} (${expected.toFixed(0)}) | ${(ddpm.stats.wallMs / 1000).toFixed(1)} | ${(cached.stats.wallMs / 1000).toFixed(1)} | ${ratio.toFixed(2)}× | ${seedRatios[steps]?.toFixed(2) ?? '–'}× |`,
    );
  }
  await service.close();
}

async function throughput(): Promise<void> {
  const length = QUICK ? 64 : 128;
  const steps = 100;
  const exportDir = await benchExport(work, 'small-width', { vocab_size: 50258, model_length: length, hidden_dim: 256, cond_dim: 64, n_blocks: 4, n_heads: 4, time_conditioning: false });
  const service = await openService(exportDir, 16);
  console.log(`\n## 3. Throughput against concurrency (D 256, 4 blocks, L = ${length}, ddpm_cache T = ${steps}, max batch 16)\n`);
  console.log('| concurrent requests | requests | tokens/s | mean batch | max batch |\n| ---: | ---: | ---: | ---: | ---: |');
  for (const concurrency of [1, 2, 4, 8, 16]) {
    const rows: number[] = [];
    const detach = service.onPass((report: PassReport) => rows.push(report.rows));
    const perClient = 2;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, client) => {
        for (let i = 0; i < perClient; i++) await generate(service, length, steps, 'ddpm_cache', client * 100 + i);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    detach();
    const requests = concurrency * perClient;
    const meanBatch = rows.reduce((a, b) => a + b, 0) / rows.length;
    console.log(`| ${concurrency} | ${requests} | ${((requests * length) / seconds).toFixed(0)} | ${meanBatch.toFixed(2)} | ${Math.max(...rows)} |`);
  }
  await service.close();
}

/** Every sampler with its published settings on one export, as a table of passes and wall time against ddpm_cache's. */
async function samplerTable(title: string, exportDir: string, length: number, steps: number): Promise<void> {
  const service = await openService(exportDir);
  console.log(`\n## ${title}\n`);
  console.log('| sampler | settings | forward passes | wall s | passes ÷ ddpm_cache | wall ÷ ddpm_cache |\n| --- | --- | ---: | ---: | ---: | ---: |');
  await generate(service, length, 20, 'ddpm', 1);
  let reference: { passes: number; wallMs: number } | undefined;
  for (const sampler of ['ddpm_cache', ...SAMPLERS.filter((name) => name !== 'ddpm_cache')] as SamplerName[]) {
    const topP = isRemasking(sampler) ? 0.9 : undefined;
    const { stats } = await generate(service, length, steps, sampler, 11, topP);
    reference ??= { passes: stats.forwardPasses, wallMs: stats.wallMs };
    const settings = isRemasking(sampler) ? `top_p 0.9${sampler === 'remdm-conf' ? '' : `, η ${REMDM_DEFAULTS.eta[sampler]}`}${sampler === 'remdm-loop' ? `, t_on ${REMDM_DEFAULTS.tOn}, t_off ${REMDM_DEFAULTS.tOff}, α_on ${REMDM_DEFAULTS.alphaOn}` : ''}` : '–';
    console.log(`| ${sampler} | ${settings} | ${stats.forwardPasses} | ${(stats.wallMs / 1000).toFixed(1)} | ${(stats.forwardPasses / reference.passes).toFixed(2)} | ${(stats.wallMs / reference.wallMs).toFixed(2)} |`);
  }
  await service.close();
}

async function samplers(): Promise<void> {
  const length = QUICK ? 256 : 1024;
  const narrow = await benchExport(work, 'narrow-samplers', { vocab_size: 50258, model_length: length, hidden_dim: 32, cond_dim: 16, n_blocks: 2, n_heads: 2, time_conditioning: false });
  await samplerTable(`4. Every sampler at L = ${length}, T = ${length} (ReMDM's setting; D 32, batch 1), published settings, against ddpm_cache`, narrow, length, length);
  const owtLength = QUICK ? 64 : 128;
  const owt = await benchExport(work, 'owt-samplers', { ...OWT_WIDTH, model_length: owtLength });
  await samplerTable(`4b. The same at owt width (D 768, 12 blocks), L = ${owtLength}, T = ${owtLength}: the wall time a real pass gives`, owt, owtLength, owtLength);
}

/** BENCH_SECTIONS=overhead,seed,throughput,samplers picks sections (default: all). */
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'overhead,seed,throughput,samplers').split(','));
try {
  console.log(machineLine());
  if (SECTIONS.has('overhead')) await overhead();
  if (SECTIONS.has('seed')) await seedTable();
  if (SECTIONS.has('throughput')) await throughput();
  if (SECTIONS.has('samplers')) await samplers();
} finally {
  rmSync(work, { recursive: true, force: true });
}
