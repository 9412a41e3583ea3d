import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/random.js';
import { chiSquare, softmax } from './stats.js';

export interface HeadDraws {
  tokens: BigInt64Array;
  /** Under the distribution each token was drawn from. */
  sampledLogprobs: Float32Array;
  /** Under the model's own distribution (no temperature or truncation). */
  logprobs: Float32Array;
  logsumexp: Float32Array;
  topTokens: BigInt64Array;
  topLogprobs: Float32Array;
}

export interface DrawOptions {
  sigma?: number;
  topP?: number;
  topK?: number;
  /** Positions to score in the same run (their results follow the draws in logprobs and top). */
  score?: { positions: number[]; targets: number[] };
}

const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [values.length]);

/** One row of input ids through a positions-head session; `positions` (repeats allowed) each get one uniform. */
export async function drawFromHead(session: ort.InferenceSession, ids: number[], positions: number[], uniforms: Float64Array, temperature: number, options: DrawOptions = {}): Promise<HeadDraws> {
  const count = positions.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    draw_index: int64(positions),
    draw_uniform: new ort.Tensor('float64', uniforms, [count]),
    draw_temperature: new ort.Tensor('float32', new Float32Array(count).fill(temperature), [count]),
    draw_top_p: new ort.Tensor('float32', new Float32Array(count).fill(options.topP ?? 1), [count]),
    draw_top_k: int64(new Array(count).fill(options.topK ?? 0)),
    score_index: int64(options.score?.positions ?? []),
    score_target: int64(options.score?.targets ?? []),
  };
  if (session.inputNames.includes('sigma')) feeds.sigma = new ort.Tensor('float32', Float32Array.of(options.sigma ?? 0), [1]);
  const out = await session.run(feeds);
  return {
    tokens: out.draw_token?.data as BigInt64Array,
    sampledLogprobs: out.draw_logprob?.data as Float32Array,
    logprobs: out.logprob?.data as Float32Array,
    logsumexp: out.logsumexp?.data as Float32Array,
    topTokens: out.top_token?.data as BigInt64Array,
    topLogprobs: out.top_logprob?.data as Float32Array,
  };
}

/**
 * Draws `draws` tokens at one position and checks them against `probabilities` (by default
 * softmax(logits / temperature) with the mask, the last id, at probability zero): the tokens
 * of probability zero never appear and Pearson's chi-square stays under its critical value.
 */
export async function assertDrawsFollow(
  session: ort.InferenceSession,
  ids: number[],
  position: number,
  probabilities: Float64Array,
  temperature: number,
  seed: number,
  options: DrawOptions = {},
  draws = 20_000,
): Promise<{ draws: HeadDraws; summary: string }> {
  const random = SeededRandom.fromSeed(seed);
  const uniforms = Float64Array.from({ length: draws }, () => random.uniformPositive());
  const result = await drawFromHead(session, ids, new Array(draws).fill(position), uniforms, temperature, options);
  const counts = new Array<number>(probabilities.length).fill(0);
  for (const token of result.tokens) counts[Number(token)] = (counts[Number(token)] as number) + 1;
  counts.forEach((count, token) => assert.ok(probabilities[token] !== 0 || count === 0, `token ${token} has probability 0 but was drawn ${count} times`));
  const fit = chiSquare(counts, probabilities);
  assert.ok(fit.statistic < fit.threshold, `chi-square ${fit.statistic} ≥ ${fit.threshold}`);
  const summary = `position ${position}: chi-square ${fit.statistic.toFixed(2)} on ${fit.degreesOfFreedom} df, threshold ${fit.threshold.toFixed(2)} (alpha 1e-4, n ${draws})`;
  return { draws: result, summary };
}

export async function assertDrawsFollowSoftmax(
  session: ort.InferenceSession,
  ids: number[],
  position: number,
  logits: number[],
  temperature: number,
  seed: number,
): Promise<{ draws: HeadDraws; probabilities: Float64Array; summary: string }> {
  const probabilities = softmax(logits, temperature, logits.length - 1);
  const { draws, summary } = await assertDrawsFollow(session, ids, position, probabilities, temperature, seed);
  return { draws, probabilities, summary };
}
