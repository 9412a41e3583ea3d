/**
 * The likelihood estimators through the real engine on tiny models, against exact values
 * computed from the logits head (every mask pattern enumerated, the t-integral done exactly;
 * the left-to-right chain by direct passes).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/random.js';
import { ArScorer, ElboScorer, type ScoreWindow, drawTimes, subsLoss } from '../../src/scoring/index.js';
import { startEngine } from '../helpers/engine.js';
import { exactLeftToRight, exactNelbo, exactNelboTimeConditioned } from '../helpers/exact-likelihood.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

const VOCAB = 5;
const MASK = VOCAB - 1;

async function tinyModel(timeConditioning: boolean) {
  const checkpoint = await synthCheckpoint({ vocab_size: VOCAB, model_length: 6, hidden_dim: 16, cond_dim: 8, n_blocks: 2, n_heads: 2, time_conditioning: timeConditioning }, 21);
  const logits = await ort.InferenceSession.create(join(await exportHead(checkpoint, 'logits'), 'model.onnx'));
  const engine = await startEngine(await exportHead(checkpoint, 'positions'), { maxBatch: 64 });
  return { logits, engine, facts: { maskId: MASK, timeConditioned: timeConditioning, loss: subsLoss } };
}

function window(tokens: number[], start: number): ScoreWindow {
  return { tokens: Int32Array.from(tokens), start, end: tokens.length };
}

async function elbo(engine: Awaited<ReturnType<typeof tinyModel>>['engine'], facts: ConstructorParameters<typeof ElboScorer>[3], item: ScoreWindow, draws: number, seed: number, antithetic = true) {
  const random = SeededRandom.fromSeed(seed);
  const scorer = new ElboScorer(item, drawTimes(draws, random, antithetic), random, facts);
  await engine.engine.submit([scorer]).done;
  return scorer.result();
}

const CASES = [
  { name: 'unconditional', tokens: [1, 3, 0, 2], start: 0, timeConditioned: false },
  { name: 'conditional on a context', tokens: [2, 1, 3, 0], start: 2, timeConditioned: false },
  { name: 'time-conditioned', tokens: [3, 0, 1], start: 0, timeConditioned: true },
];

for (const testCase of CASES) {
  test(`elbo, ${testCase.name}: the Monte Carlo estimate is within 4 standard errors of the exact NELBO; the shares sum to it`, async (t) => {
    const { logits, engine, facts } = await tinyModel(testCase.timeConditioned);
    const item = window(testCase.tokens, testCase.start);
    const exactItem = { session: logits, maskId: MASK, tokens: testCase.tokens, start: testCase.start, end: testCase.tokens.length, timeConditioned: testCase.timeConditioned };
    const exact = testCase.timeConditioned ? await exactNelboTimeConditioned(exactItem) : await exactNelbo(exactItem);
    const draws = 6000;
    const estimate = await elbo(engine, facts, item, draws, 17);
    const z = (estimate.nll - exact) / (estimate.stderr as number);
    t.diagnostic(`exact NELBO ${exact.toFixed(5)} nats, estimate ${estimate.nll.toFixed(5)} ± ${(estimate.stderr as number).toFixed(5)} (n ${draws}, z ${z.toFixed(2)})`);
    assert.ok(Math.abs(z) < 4, `z = ${z}`);
    const shares = Array.from(estimate.tokenNll).reduce((sum, share) => sum + share, 0);
    assert.ok(Math.abs(shares - estimate.nll) < 1e-9 * Math.max(1, estimate.nll), `shares sum to ${shares}, total ${estimate.nll}`);
    assert.equal(estimate.tokenNll.length, testCase.tokens.length - testCase.start, 'only the scored positions have shares');
    assert.ok(estimate.forwardPasses <= draws, 'a draw that masks nothing needs no pass');
    await logits.release();
  });
}

test('elbo: antithetic (stratified) times give a smaller variance of the estimate than independent ones', async (t) => {
  const { logits, engine, facts } = await tinyModel(false);
  const item = window([1, 3, 0, 2, 1, 3], 0);
  const replicates = 2000;
  const draws = 16;
  const spread = async (antithetic: boolean) => {
    const scorers = Array.from({ length: replicates }, (_, r) => {
      const random = SeededRandom.fromSeed(5000 + r);
      return new ElboScorer(item, drawTimes(draws, random, antithetic), random, facts);
    });
    await engine.engine.submit(scorers).done;
    const means = scorers.map((scorer) => scorer.result().nll);
    const mean = means.reduce((sum, value) => sum + value, 0) / replicates;
    return means.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (replicates - 1);
  };
  const stratified = await spread(true);
  const plain = await spread(false);
  // Under equal variances log F(d, d) has sd ≈ √(4/d): the ratio must clear z = 3.72 of it (alpha 1e-4).
  const threshold = Math.exp(3.72 * Math.sqrt(4 / (replicates - 1)));
  t.diagnostic(`variance of the estimate over ${replicates} replicates of ${draws} draws: antithetic ${stratified.toFixed(3)}, plain ${plain.toFixed(3)}, ratio ${(plain / stratified).toFixed(2)} (threshold ${threshold.toFixed(2)})`);
  assert.ok(plain / stratified > threshold, `plain ÷ antithetic variance = ${plain / stratified}`);
  await logits.release();
});

test('elbo: draw i of n takes its time from its own stratum', () => {
  const times = drawTimes(8, SeededRandom.fromSeed(3), true);
  times.forEach((t, i) => {
    const u = (t - 1e-3) / (1 - 1e-3);
    assert.ok(u >= i / 8 && u < (i + 1) / 8, `draw ${i}: u ${u}`);
  });
});

test('ar: each conditional equals a direct pass with the rest of the window masked; deterministic; context never scored', async () => {
  const { logits, engine } = await tinyModel(false);
  const tokens = [2, 1, 3, 0, 1];
  const exact = await exactLeftToRight({ session: logits, maskId: MASK, tokens, start: 2, end: tokens.length, timeConditioned: false });
  const scorer = new ArScorer(window(tokens, 2), MASK);
  await engine.engine.submit([scorer]).done;
  const result = scorer.result();
  assert.equal(result.forwardPasses, 3, 'one pass per scored token');
  assert.equal(result.tokenNll.length, 3);
  result.tokenNll.forEach((nll, k) => assert.ok(Math.abs(nll + (exact[k] as number)) < 1e-4, `position ${k + 2}: ${nll} vs ${-(exact[k] as number)}`));
  assert.ok(Math.abs(result.nll + exact.reduce((sum, value) => sum + value, 0)) < 1e-4);
  const again = new ArScorer(window(tokens, 2), MASK);
  await engine.engine.submit([again]).done;
  assert.deepEqual(Array.from(again.result().tokenNll), Array.from(result.tokenNll), 'the same numbers every time');
  const width = result.alternatives?.width ?? 0;
  assert.equal(width, VOCAB - 1);
  result.tokenNll.forEach((nll, k) => {
    const top = Array.from(result.alternatives?.logprobs.subarray(k * width, (k + 1) * width) ?? []);
    assert.ok(-nll <= (top[0] as number) + 1e-6, 'no token beats the top alternative');
  });
  await logits.release();
});
