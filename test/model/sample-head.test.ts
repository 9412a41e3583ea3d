import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { exportHead } from '../helpers/models.js';
import { assertDrawsFollowSoftmax, drawFromSampleHead } from '../helpers/sample-head.js';
import { softmax } from '../helpers/stats.js';

async function sampleSession(name: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(await exportHead(fixtureDir(name), 'sample'), 'model.onnx'));
}

function argmaxExcluding(values: number[], excluded: number): number {
  let best = -1;
  values.forEach((value, i) => {
    if (i !== excluded && (best < 0 || value > (values[best] as number))) best = i;
  });
  return best;
}

for (const name of PARITY_FIXTURES) {
  test(`sample head, ${name}: temperature 0 gives the reference argmax (mask excluded) and exact log-probabilities`, async () => {
    const session = await sampleSession(name);
    for (const testCase of parityCases(name)) {
      for (let row = 0; row < testCase.input_ids.length; row++) {
        const ids = testCase.input_ids[row] as number[];
        const logits = testCase.logits[row] as number[][];
        const vocab = (logits[0] as number[]).length;
        const positions = ids.map((_, p) => p);
        const uniforms = new Float64Array(positions.length).fill(0.5);
        const greedy = await drawFromSampleHead(session, ids, positions, uniforms, 0, testCase.sigma?.[row] ?? 0);
        positions.forEach((p, k) => {
          const expected = argmaxExcluding(logits[p] as number[], vocab - 1);
          assert.equal(Number(greedy.tokens[k]), expected, `row ${row} position ${p}`);
          const logProbability = Math.log(softmax(logits[p] as number[], 1, vocab - 1)[expected] as number);
          assert.ok(Math.abs((greedy.logprobs[k] as number) - logProbability) < 1e-4, `log-prob ${greedy.logprobs[k]} vs ${logProbability}`);
        });
      }
    }
    await session.release();
  });
}

for (const temperature of [1, 0.6]) {
  test(`sample head draws from softmax(logits / ${temperature}) with the mask at probability 0 (chi-square)`, async (t) => {
    const name = 'tiny-uncond';
    const session = await sampleSession(name);
    const testCase = parityCases(name)[0] as ParityCase;
    const ids = testCase.input_ids[0] as number[];
    for (const position of [0, 5]) {
      const logits = (testCase.logits[0] as number[][])[position] as number[];
      const { draws, probabilities, summary } = await assertDrawsFollowSoftmax(session, ids, position, logits, temperature, 1000 + position);
      t.diagnostic(summary);
      draws.tokens.forEach((token, k) => {
        assert.ok(Math.abs((draws.logprobs[k] as number) - Math.log(probabilities[Number(token)] as number)) < 1e-4);
      });
    }
    await session.release();
  });
}

test('a token of probability zero is never drawn even when u lands at the very edges', async () => {
  const session = await sampleSession('tiny-uncond');
  const ids = (parityCases('tiny-uncond')[3] as ParityCase).input_ids[0] as number[];
  const edges = Float64Array.from([Number.MIN_VALUE, 2 ** -53, 1 - 2 ** -53, 1]);
  const { tokens } = await drawFromSampleHead(session, ids, [0, 1, 2, 3], edges, 1);
  for (const token of tokens) assert.notEqual(Number(token), 28, 'the mask id');
  await session.release();
});
