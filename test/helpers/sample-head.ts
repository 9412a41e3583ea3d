import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/random.js';
import { chiSquare, softmax } from './stats.js';

export interface SampleDraws {
  tokens: BigInt64Array;
  logprobs: Float32Array;
}

/** One row of input ids through a sample-head session; `positions` (repeats allowed) each get one uniform. */
export async function drawFromSampleHead(
  session: ort.InferenceSession,
  ids: number[],
  positions: number[],
  uniforms: Float64Array,
  temperature: number,
  sigma = 0,
): Promise<SampleDraws> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    positions: new ort.Tensor('int64', BigInt64Array.from(positions, BigInt), [1, positions.length]),
    uniforms: new ort.Tensor('float64', uniforms, [1, positions.length]),
    temperature: new ort.Tensor('float32', Float32Array.of(temperature), [1]),
  };
  if (session.inputNames.includes('sigma')) feeds.sigma = new ort.Tensor('float32', Float32Array.of(sigma), [1]);
  const out = await session.run(feeds);
  return { tokens: out.tokens?.data as BigInt64Array, logprobs: out.logprobs?.data as Float32Array };
}

/**
 * Draws `draws` tokens at one position and checks them against softmax(logits / temperature)
 * with the mask (the last id) at probability zero: the mask never appears and Pearson's
 * chi-square stays under its critical value. Returns the draws and a line for the test log.
 */
export async function assertDrawsFollowSoftmax(
  session: ort.InferenceSession,
  ids: number[],
  position: number,
  logits: number[],
  temperature: number,
  seed: number,
  draws = 20_000,
): Promise<{ draws: SampleDraws; probabilities: Float64Array; summary: string }> {
  const random = SeededRandom.fromSeed(seed);
  const uniforms = Float64Array.from({ length: draws }, () => random.uniformPositive());
  const result = await drawFromSampleHead(session, ids, new Array(draws).fill(position), uniforms, temperature);
  const vocab = logits.length;
  const counts = new Array<number>(vocab).fill(0);
  for (const token of result.tokens) counts[Number(token)] = (counts[Number(token)] as number) + 1;
  assert.equal(counts[vocab - 1], 0, 'the mask token is never drawn');
  const probabilities = softmax(logits, temperature, vocab - 1);
  const fit = chiSquare(counts, probabilities);
  assert.ok(fit.statistic < fit.threshold, `chi-square ${fit.statistic} ≥ ${fit.threshold}`);
  const summary = `position ${position}: chi-square ${fit.statistic.toFixed(2)} on ${fit.degreesOfFreedom} df, threshold ${fit.threshold.toFixed(2)} (alpha 1e-4, n ${draws})`;
  return { draws: result, probabilities, summary };
}
