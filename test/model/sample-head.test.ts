import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/random.js';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { exportHead } from '../helpers/models.js';
import { chiSquare, softmax } from '../helpers/stats.js';

interface SampleRun {
  tokens: BigInt64Array;
  logprobs: Float32Array;
}

async function sampleSession(name: string): Promise<{ session: ort.InferenceSession; conditioned: boolean }> {
  const session = await ort.InferenceSession.create(join(await exportHead(fixtureDir(name), 'sample'), 'model.onnx'));
  return { session, conditioned: session.inputNames.includes('sigma') };
}

/** One row of input ids; `positions` (repeats allowed) each get one uniform. */
async function draw(
  { session, conditioned }: { session: ort.InferenceSession; conditioned: boolean },
  ids: number[],
  sigma: number,
  positions: number[],
  uniforms: Float64Array,
  temperature: number,
): Promise<SampleRun> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    positions: new ort.Tensor('int64', BigInt64Array.from(positions, BigInt), [1, positions.length]),
    uniforms: new ort.Tensor('float64', uniforms, [1, positions.length]),
    temperature: new ort.Tensor('float32', Float32Array.of(temperature), [1]),
  };
  if (conditioned) feeds.sigma = new ort.Tensor('float32', Float32Array.of(sigma), [1]);
  const out = await session.run(feeds);
  return { tokens: out.tokens?.data as BigInt64Array, logprobs: out.logprobs?.data as Float32Array };
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
    const model = await sampleSession(name);
    for (const testCase of parityCases(name)) {
      for (let row = 0; row < testCase.input_ids.length; row++) {
        const ids = testCase.input_ids[row] as number[];
        const logits = testCase.logits[row] as number[][];
        const vocab = (logits[0] as number[]).length;
        const positions = ids.map((_, p) => p);
        const uniforms = new Float64Array(positions.length).fill(0.5);
        const greedy = await draw(model, ids, testCase.sigma?.[row] ?? 0, positions, uniforms, 0);
        positions.forEach((p, k) => {
          const expected = argmaxExcluding(logits[p] as number[], vocab - 1);
          assert.equal(Number(greedy.tokens[k]), expected, `row ${row} position ${p}`);
          const logProbability = Math.log((softmax(logits[p] as number[], 1, vocab - 1)[expected] as number));
          assert.ok(Math.abs((greedy.logprobs[k] as number) - logProbability) < 1e-4, `log-prob ${greedy.logprobs[k]} vs ${logProbability}`);
        });
      }
    }
    await model.session.release();
  });
}

for (const temperature of [1, 0.6]) {
  test(`sample head draws from softmax(logits / ${temperature}) with the mask at probability 0 (chi-square)`, async (t) => {
    const name = 'tiny-uncond';
    const model = await sampleSession(name);
    const testCase = parityCases(name)[0] as ParityCase;
    const ids = testCase.input_ids[0] as number[];
    const draws = 20_000;
    for (const position of [0, 5]) {
      const logits = (testCase.logits[0] as number[][])[position] as number[];
      const vocab = logits.length;
      const random = SeededRandom.fromSeed(1000 + position);
      const uniforms = Float64Array.from({ length: draws }, () => random.uniformPositive());
      const { tokens, logprobs } = await draw(model, ids, 0, new Array(draws).fill(position), uniforms, temperature);
      const counts = new Array(vocab).fill(0);
      for (const token of tokens) counts[Number(token)] += 1;
      assert.equal(counts[vocab - 1], 0, 'the mask token is never drawn');
      const probabilities = softmax(logits, temperature, vocab - 1);
      const result = chiSquare(counts, probabilities);
      t.diagnostic(`position ${position}: chi-square ${result.statistic.toFixed(2)} on ${result.degreesOfFreedom} df, threshold ${result.threshold.toFixed(2)} (alpha 1e-4, n ${draws})`);
      assert.ok(result.statistic < result.threshold, `chi-square ${result.statistic} ≥ ${result.threshold}`);
      tokens.forEach((token, k) => {
        assert.ok(Math.abs((logprobs[k] as number) - Math.log(probabilities[Number(token)] as number)) < 1e-4);
      });
    }
    await model.session.release();
  });
}

test('a token of probability zero is never drawn even when u lands at the very edges', async () => {
  const model = await sampleSession('tiny-uncond');
  const ids = (parityCases('tiny-uncond')[3] as ParityCase).input_ids[0] as number[];
  const edges = Float64Array.from([Number.MIN_VALUE, 2 ** -53, 1 - 2 ** -53, 1]);
  const { tokens } = await draw(model, ids, 0, [0, 1, 2, 3], edges, 1);
  for (const token of tokens) assert.notEqual(Number(token), 28, 'the mask id');
  await model.session.release();
});
