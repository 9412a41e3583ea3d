/** What one sample does, through the real engine on a tiny model: pass counts, rounds, fixed tokens. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedForwardPasses } from '../../src/sampling/index.js';
import { type SampleRequest, startEngine } from '../helpers/engine.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

const MASK = 63;

function request(overrides: Partial<SampleRequest> = {}): SampleRequest {
  return { length: 32, steps: 50, sampler: 'ddpm_cache', seed: 1, ...overrides };
}

async function tinyEngine() {
  return startEngine(await exportHead(await synthCheckpoint(), 'positions'));
}

test('spec §4 expected forward passes for L = 1024', () => {
  assert.equal(Math.round(expectedForwardPasses(1024, 1000, 1e-5)), 641);
  assert.equal(Math.round(expectedForwardPasses(1024, 5000, 1e-5)), 926);
  assert.equal(Math.round(expectedForwardPasses(1024, 10000, 1e-5)), 973);
});

test('ddpm_cache forward passes follow the first-hitting law; ddpm takes exactly T + 1', async (t) => {
  const engine = await tinyEngine();
  const samples = 400;
  for (const steps of [20, 100]) {
    const { samplers } = await engine.sample(request({ steps, eps: 0.01 }), samples);
    const passes = samplers.map((sample) => sample.forwardPasses);
    const mean = passes.reduce((sum, p) => sum + p, 0) / samples;
    const sd = Math.sqrt(passes.reduce((sum, p) => sum + (p - mean) ** 2, 0) / (samples - 1));
    const expected = expectedForwardPasses(32, steps, 0.01);
    const z = (mean - expected) / (sd / Math.sqrt(samples));
    t.diagnostic(`T ${steps}: mean passes ${mean.toFixed(3)}, expected ${expected.toFixed(3)}, z ${z.toFixed(2)}`);
    assert.ok(Math.abs(z) < 4.5, `mean ${mean} vs expected ${expected}: z = ${z}`);
  }
  const ddpm = await engine.sample(request({ steps: 37, sampler: 'ddpm' }), 3);
  assert.deepEqual(ddpm.samplers.map((sample) => sample.forwardPasses), [38, 38, 38]);
  assert.equal(ddpm.stats.forwardPasses, 3 * 38);
});

test('T = 100 000 plans in O(L log L): ddpm_cache needs at most L + 1 passes', async () => {
  const engine = await tinyEngine();
  const { samplers } = await engine.sample(request({ steps: 100_000 }), 2);
  for (const sample of samplers) {
    assert.ok(sample.forwardPasses <= 33);
    assert.ok(!sample.canvas.includes(MASK), 'every position is decoded');
    assert.equal(sample.totalSteps, 100_000);
  }
});

test('semi-autoregressive output is L + n·s long and keeps a prompt longer than the window', async () => {
  const engine = await tinyEngine();
  const semiAr = { strideLength: 8, numStrides: 3 };
  const plain = await engine.sample(request({ semiAr, steps: 20 }), 1);
  assert.equal(plain.samplers[0]?.canvas.length, 32 + 3 * 8);
  assert.equal(plain.samplers[0]?.totalSteps, 20 * 4);
  const longPrompt = Array.from({ length: 40 }, (_, i) => 1 + (i % 60));
  const continued = await engine.sample(request({ prefix: longPrompt, semiAr, steps: 20 }), 1);
  const tokens = Array.from(continued.samplers[0]?.canvas ?? []);
  assert.deepEqual(tokens.slice(0, 40), longPrompt, 'the prompt is kept');
  assert.ok(!tokens.includes(MASK));
});

test('prefix and suffix stay fixed; only the positions between them are sampled, each with its logprob and alternatives', async () => {
  const engine = await tinyEngine();
  const { samplers } = await engine.sample(request({ prefix: [1, 2, 3], suffix: [4, 5], steps: 30 }), 2);
  for (const sample of samplers) {
    const tokens = Array.from(sample.canvas);
    assert.deepEqual(tokens.slice(0, 3), [1, 2, 3]);
    assert.deepEqual(tokens.slice(-2), [4, 5]);
    assert.ok(Number.isNaN(sample.logprobs[0] as number) && Number.isFinite(sample.logprobs[10] as number));
    assert.equal(sample.topWidth, 5);
    const alternatives = Array.from(sample.topLogprobs.subarray(50, 55));
    assert.ok(alternatives.every((value, k) => k === 0 || value <= (alternatives[k - 1] as number)), 'alternatives come most likely first');
    assert.ok((sample.logprobs[10] as number) <= (alternatives[0] as number) + 1e-6, 'no token is more likely than the top alternative');
  }
});
