import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { exportHead } from '../helpers/models.js';
import { assertDrawsFollow, assertDrawsFollowSoftmax, drawFromHead } from '../helpers/positions-head.js';
import { softmax, truncated } from '../helpers/stats.js';

async function headSession(name: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(await exportHead(fixtureDir(name), 'positions'), 'model.onnx'));
}

function argmaxExcluding(values: number[], excluded: number): number {
  let best = -1;
  values.forEach((value, i) => {
    if (i !== excluded && (best < 0 || value > (values[best] as number))) best = i;
  });
  return best;
}

for (const name of PARITY_FIXTURES) {
  test(`positions head, ${name}: temperature 0 gives the reference argmax (mask excluded) and exact log-probabilities`, async () => {
    const session = await headSession(name);
    for (const testCase of parityCases(name)) {
      for (let row = 0; row < testCase.input_ids.length; row++) {
        const ids = testCase.input_ids[row] as number[];
        const logits = testCase.logits[row] as number[][];
        const vocab = (logits[0] as number[]).length;
        const positions = ids.map((_, p) => p);
        const uniforms = new Float64Array(positions.length).fill(0.5);
        const greedy = await drawFromHead(session, ids, positions, uniforms, 0, { sigma: testCase.sigma?.[row] ?? 0 });
        positions.forEach((p, k) => {
          const expected = argmaxExcluding(logits[p] as number[], vocab - 1);
          assert.equal(Number(greedy.tokens[k]), expected, `row ${row} position ${p}`);
          const logProbability = Math.log(softmax(logits[p] as number[], 1, vocab - 1)[expected] as number);
          assert.ok(Math.abs((greedy.logprobs[k] as number) - logProbability) < 1e-4, `log-prob ${greedy.logprobs[k]} vs ${logProbability}`);
          assert.ok(Math.abs((greedy.sampledLogprobs[k] as number) - logProbability) < 1e-4, 'a greedy draw reports the untempered log-probability');
        });
      }
    }
    await session.release();
  });
}

/**
 * Each draw reports two log-probabilities of its token: under the distribution it was drawn
 * from (temperature and truncation applied) and under the model itself (softmax at 1, mask excluded).
 */
function assertDrawLogprobs(draws: { tokens: ArrayLike<number | bigint>; sampledLogprobs: ArrayLike<number>; logprobs: ArrayLike<number> }, drawnFrom: ArrayLike<number>, logits: readonly number[]): void {
  const model = softmax(logits, 1, logits.length - 1);
  Array.from(draws.tokens).forEach((token, k) => {
    assert.ok(Math.abs((draws.sampledLogprobs[k] as number) - Math.log(drawnFrom[Number(token)] as number)) < 1e-4, 'the log-probability it was drawn with');
    assert.ok(Math.abs((draws.logprobs[k] as number) - Math.log(model[Number(token)] as number)) < 1e-4, "the model's own log-probability");
  });
}

for (const temperature of [1, 0.6]) {
  test(`positions head draws from softmax(logits / ${temperature}) with the mask at probability 0 (chi-square)`, async (t) => {
    const name = 'tiny-uncond';
    const session = await headSession(name);
    const testCase = parityCases(name)[0] as ParityCase;
    const ids = testCase.input_ids[0] as number[];
    for (const position of [0, 5]) {
      const logits = (testCase.logits[0] as number[][])[position] as number[];
      const { draws, probabilities, summary } = await assertDrawsFollowSoftmax(session, ids, position, logits, temperature, 1000 + position);
      t.diagnostic(summary);
      assertDrawLogprobs(draws, probabilities, logits);
    }
    await session.release();
  });
}

test('a token of probability zero is never drawn even when u lands at the very edges', async () => {
  const session = await headSession('tiny-uncond');
  const ids = (parityCases('tiny-uncond')[3] as ParityCase).input_ids[0] as number[];
  const edges = Float64Array.from([Number.MIN_VALUE, 2 ** -53, 1 - 2 ** -53, 1]);
  const { tokens } = await drawFromHead(session, ids, [0, 1, 2, 3], edges, 1);
  for (const token of tokens) assert.notEqual(Number(token), 28, 'the mask id');
  await session.release();
});

for (const [topK, topP, temperature] of [[3, 1, 1], [0, 0.6, 1], [4, 0.7, 0.8], [1, 1, 1], [0, 0.05, 1]] as const) {
  test(`positions head with top_k ${topK}, top_p ${topP}, temperature ${temperature} draws from the truncated distribution (chi-square)`, async (t) => {
    const name = 'tiny-uncond';
    const session = await headSession(name);
    const testCase = parityCases(name)[1] as ParityCase;
    const ids = testCase.input_ids[0] as number[];
    const logits = (testCase.logits[0] as number[][])[2] as number[];
    const expected = truncated(softmax(logits, temperature, logits.length - 1), topK, topP);
    const kept = expected.filter((p) => p > 0).length;
    const { draws, summary } = await assertDrawsFollow(session, ids, 2, expected, temperature, 77 + topK, { topK, topP });
    t.diagnostic(`${kept} tokens kept; ${summary}`);
    assertDrawLogprobs(draws, expected, logits);
    await session.release();
  });
}

test('rows with and without truncation in one run each get their own distribution', async () => {
  const name = 'tiny-uncond';
  const session = await headSession(name);
  const testCase = parityCases(name)[1] as ParityCase;
  const ids = testCase.input_ids[0] as number[];
  const logits = (testCase.logits[0] as number[][])[2] as number[];
  const full = softmax(logits, 1, logits.length - 1);
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    draw_index: new ort.Tensor('int64', BigInt64Array.of(2n, 2n), [2]),
    draw_uniform: new ort.Tensor('float64', Float64Array.of(0.999999, 0.999999), [2]),
    draw_temperature: new ort.Tensor('float32', Float32Array.of(1, 1), [2]),
    draw_top_p: new ort.Tensor('float32', Float32Array.of(1, 1), [2]),
    draw_top_k: new ort.Tensor('int64', BigInt64Array.of(0n, 1n), [2]),
    score_index: new ort.Tensor('int64', new BigInt64Array(0), [0]),
    score_target: new ort.Tensor('int64', new BigInt64Array(0), [0]),
  };
  const out = await session.run(feeds);
  const [untruncated, top1] = Array.from(out.draw_token?.data as BigInt64Array, Number);
  assert.equal(top1, full.indexOf(Math.max(...full)), 'top_k 1 is the argmax');
  const lastKept = full.reduce((last, p, token) => (p > 0 ? token : last), -1);
  assert.equal(untruncated, lastKept, 'u near 1 lands on the last token of nonzero probability when nothing is truncated');
  await session.release();
});

for (const name of PARITY_FIXTURES) {
  test(`positions head, ${name}: scores, normalisers and top alternatives equal the reference logits`, async () => {
    const session = await headSession(name);
    for (const testCase of parityCases(name)) {
      const ids = testCase.input_ids[0] as number[];
      const logits = testCase.logits[0] as number[][];
      const vocab = (logits[0] as number[]).length;
      const positions = ids.map((_, p) => p);
      const targets = positions.map((p) => (p * 7 + 3) % (vocab - 1));
      const out = await drawFromHead(session, ids, [0], Float64Array.of(0.5), 1, { sigma: testCase.sigma?.[0] ?? 0, score: { positions, targets } });
      const width = out.topLogprobs.length / out.logprobs.length;
      assert.equal(width, Math.min(5, vocab - 1));
      positions.forEach((p, k) => {
        const entry = k + 1; // after the one draw
        const row = logits[p] as number[];
        const probabilities = softmax(row, 1, vocab - 1);
        const peak = Math.max(...row.filter((_, token) => token !== vocab - 1));
        const lse = peak + Math.log(row.reduce((sum, z, token) => (token === vocab - 1 ? sum : sum + Math.exp(z - peak)), 0));
        assert.ok(Math.abs((out.logprobs[entry] as number) - Math.log(probabilities[targets[k] as number] as number)) < 1e-4, `score at ${p}`);
        assert.ok(Math.abs((out.logsumexp[entry] as number) - lse) < 1e-4, `logsumexp at ${p}`);
        const ranked = Array.from(probabilities.keys()).sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number)).slice(0, width);
        assert.deepEqual(Array.from(out.topTokens.subarray(entry * width, (entry + 1) * width), Number), ranked, `top tokens at ${p}`);
        ranked.forEach((token, j) => assert.ok(Math.abs((out.topLogprobs[entry * width + j] as number) - Math.log(probabilities[token] as number)) < 1e-4));
      });
    }
    await session.release();
  });
}
