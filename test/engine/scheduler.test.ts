import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expectedForwardPasses, type SamplingParams } from '../../src/sampling/index.js';
import type { PassReport } from '../../src/scheduler/index.js';
import { startEngine } from '../helpers/engine.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

const MASK = 63;

function params(overrides: Partial<SamplingParams> = {}): SamplingParams {
  return { length: 32, steps: 50, sampler: 'ddpm_cache', temperature: 1, prefix: [], suffix: [], seed: 1, ...overrides };
}

async function tinyEngine(options: Parameters<typeof startEngine>[1] = {}) {
  return startEngine(await exportHead(await synthCheckpoint(), 'sample'), options);
}

test('spec §4 expected forward passes for L = 1024', () => {
  assert.equal(Math.round(expectedForwardPasses(1024, 1000, 1e-5)), 641);
  assert.equal(Math.round(expectedForwardPasses(1024, 5000, 1e-5)), 926);
  assert.equal(Math.round(expectedForwardPasses(1024, 10000, 1e-5)), 973);
});

test('ddpm_cache forward passes follow the first-hitting law; ddpm takes exactly T + 1', async (t) => {
  const { scheduler } = await tinyEngine();
  const samples = 400;
  for (const steps of [20, 100]) {
    const result = await scheduler.submit({ params: params({ steps, eps: 0.01 }), numSamples: samples });
    const passes = result.samples.map((sample) => sample.forwardPasses);
    const mean = passes.reduce((sum, p) => sum + p, 0) / samples;
    const sd = Math.sqrt(passes.reduce((sum, p) => sum + (p - mean) ** 2, 0) / (samples - 1));
    const expected = expectedForwardPasses(32, steps, 0.01);
    const z = (mean - expected) / (sd / Math.sqrt(samples));
    t.diagnostic(`T ${steps}: mean passes ${mean.toFixed(3)}, expected ${expected.toFixed(3)}, z ${z.toFixed(2)}`);
    assert.ok(Math.abs(z) < 4.5, `mean ${mean} vs expected ${expected}: z = ${z}`);
  }
  const ddpm = await scheduler.submit({ params: params({ steps: 37, sampler: 'ddpm' }), numSamples: 3 });
  assert.deepEqual(ddpm.samples.map((sample) => sample.forwardPasses), [38, 38, 38]);
  assert.equal(ddpm.stats.forwardPasses, 3 * 38);
});

test('T = 100 000 plans in O(L log L): ddpm_cache needs at most L + 1 passes', async () => {
  const { scheduler } = await tinyEngine();
  const result = await scheduler.submit({ params: params({ steps: 100_000 }), numSamples: 2 });
  for (const sample of result.samples) {
    assert.ok(sample.forwardPasses <= 33);
    assert.ok(!sample.tokens.includes(MASK), 'every position is decoded');
  }
  assert.equal(result.stats.steps, 100_000);
});

test('a seeded request gives identical tokens alone and batched among concurrent others', async () => {
  const { scheduler } = await tinyEngine({ maxBatch: 8 });
  const probe = params({ seed: 99, prefix: [5, 6], steps: 40 });
  const alone = await scheduler.submit({ params: probe, numSamples: 3 });
  const sizes: number[] = [];
  scheduler.on('pass', (report: PassReport) => sizes.push(report.rows));
  const others = [
    scheduler.submit({ params: params({ seed: 1, steps: 40 }), numSamples: 4 }),
    scheduler.submit({ params: params({ seed: 2, sampler: 'ddpm', steps: 30 }), numSamples: 2 }),
    scheduler.submit({ params: params({ seed: 3, length: 16, steps: 40 }), numSamples: 2 }),
  ];
  const batched = scheduler.submit({ params: probe, numSamples: 3 });
  const [together] = await Promise.all([batched, ...others]);
  assert.ok(Math.max(...sizes) > 3, `the probe shared passes with other requests (largest batch ${Math.max(...sizes)})`);
  assert.deepEqual(together.samples.map((s) => Array.from(s.tokens)), alone.samples.map((s) => Array.from(s.tokens)));
  assert.deepEqual(together.samples.map((s) => s.forwardPasses), alone.samples.map((s) => s.forwardPasses));
  const different = await scheduler.submit({ params: { ...probe, seed: 100 }, numSamples: 1 });
  assert.notDeepEqual(Array.from(different.samples[0]?.tokens ?? []), Array.from(alone.samples[0]?.tokens ?? []));
});

test('concurrent requests share forward passes instead of taking turns', async () => {
  const { scheduler } = await tinyEngine({ maxBatch: 16 });
  const rows: number[] = [];
  scheduler.on('pass', (report: PassReport) => rows.push(report.rows));
  const steps = 20;
  await Promise.all([1, 2, 3, 4].map((seed) => scheduler.submit({ params: params({ seed, steps, sampler: 'ddpm' }), numSamples: 1 })));
  // Alone, four ddpm requests need 4 × (T + 1) passes; together about T + 1 (one more for the late joiners).
  assert.ok(rows.length <= steps + 3, `${rows.length} passes for 4 concurrent requests of ${steps + 1} passes each`);
});

test('the event loop stays responsive while forward passes run in the worker', async (t) => {
  const exportDir = await exportHead(await synthCheckpoint({ vocab_size: 2000, model_length: 256, hidden_dim: 256, cond_dim: 32, n_blocks: 4, n_heads: 4 }), 'sample');
  const { scheduler } = await startEngine(exportDir);
  const computeTimes: number[] = [];
  scheduler.on('pass', (report: PassReport) => computeTimes.push(report.computeMs));
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  await scheduler.submit({ params: params({ length: 256, steps: 12, sampler: 'ddpm' }), numSamples: 2 });
  lag.disable();
  const medianPass = computeTimes.sort((a, b) => a - b)[Math.floor(computeTimes.length / 2)] as number;
  const p99LagMs = lag.percentile(99) / 1e6;
  t.diagnostic(`median forward pass ${medianPass.toFixed(1)} ms, event-loop lag p99 ${p99LagMs.toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`);
  // On the main thread, every pass would stall the loop for its whole duration.
  assert.ok(p99LagMs < medianPass / 2, `p99 lag ${p99LagMs} ms vs a ${medianPass} ms pass`);
});

test('a full queue refuses work as overloaded; cancelling frees the slots before the next pass', async () => {
  const { scheduler } = await tinyEngine({ maxBatch: 4, maxQueue: 4 });
  const rowsAfterCancel: number[] = [];
  const controller = new AbortController();
  const long = scheduler.submit({ params: params({ steps: 3000, sampler: 'ddpm' }), numSamples: 4, signal: controller.signal });
  await assert.rejects(scheduler.submit({ params: params(), numSamples: 1 }), { code: 'overloaded' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort();
  await assert.rejects(long, { code: 'cancelled' });
  assert.equal(scheduler.activeSequences, 0);
  scheduler.on('pass', (report: PassReport) => rowsAfterCancel.push(report.rows));
  const short = await scheduler.submit({ params: params({ steps: 10, sampler: 'ddpm' }), numSamples: 1 });
  assert.equal(short.samples.length, 1);
  // The pass running at cancellation time may still carry the cancelled rows; none after it does.
  assert.ok(rowsAfterCancel.slice(1).every((rows) => rows === 1), `rows per pass after cancelling: ${rowsAfterCancel}`);
});

test('a forward pass that throws fails only the requests in its batch; the engine goes on', async () => {
  const { scheduler } = await tinyEngine();
  // A token id beyond the vocabulary makes onnxruntime's embedding Gather throw.
  const poisoned = scheduler.submit({ params: params({ length: 16, prefix: [10_000] }), numSamples: 1 });
  const healthy = scheduler.submit({ params: params({ length: 32 }), numSamples: 2 });
  await assert.rejects(poisoned, (error: Error & { code?: string }) => {
    assert.equal(error.code, 'inference_failed');
    assert.match(error.message, /forward pass failed/);
    return true;
  });
  assert.equal((await healthy).samples.length, 2);
  assert.equal((await scheduler.submit({ params: params({ length: 16 }), numSamples: 1 })).samples.length, 1);
});

test('a worker that dies fails its in-flight requests cleanly and is restarted', async () => {
  const { scheduler, runtime } = await tinyEngine();
  const running = scheduler.submit({ params: params({ steps: 5000, sampler: 'ddpm' }), numSamples: 1 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const restarted = new Promise((resolve) => runtime.once('restarted', resolve));
  const failed = assert.rejects(running, { code: 'worker_crashed' });
  await runtime.recycleWorker(0);
  await failed;
  await restarted;
  assert.equal((await scheduler.submit({ params: params({ steps: 20 }), numSamples: 1 })).samples.length, 1);
});

test('semi-autoregressive output is L + n·s long; a prompt longer than the window needs it', async () => {
  const { scheduler } = await tinyEngine();
  const semiAr = { strideLength: 8, numStrides: 3 };
  const plain = await scheduler.submit({ params: params({ semiAr, steps: 20 }), numSamples: 1 });
  assert.equal(plain.samples[0]?.tokens.length, 32 + 3 * 8);
  assert.equal(plain.stats.steps, 20 * 4);
  const longPrompt = Array.from({ length: 40 }, (_, i) => 1 + (i % 60));
  await assert.rejects(scheduler.submit({ params: params({ prefix: longPrompt }), numSamples: 1 }), { code: 'prompt_too_long' });
  const continued = await scheduler.submit({ params: params({ prefix: longPrompt, semiAr, steps: 20 }), numSamples: 1 });
  const tokens = Array.from(continued.samples[0]?.tokens ?? []);
  assert.deepEqual(tokens.slice(0, 40), longPrompt, 'the prompt is kept');
  assert.ok(!tokens.includes(MASK));
});

test('prefix and suffix stay fixed; only the positions between them are sampled', async () => {
  const { scheduler } = await tinyEngine();
  const result = await scheduler.submit({ params: params({ prefix: [1, 2, 3], suffix: [4, 5], steps: 30 }), numSamples: 2 });
  for (const sample of result.samples) {
    const tokens = Array.from(sample.tokens);
    assert.deepEqual(tokens.slice(0, 3), [1, 2, 3]);
    assert.deepEqual(tokens.slice(-2), [4, 5]);
    assert.ok(Number.isNaN(sample.logprobs[0] as number) && Number.isFinite(sample.logprobs[10] as number));
  }
});
