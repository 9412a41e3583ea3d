/** The positions head's feeds and results: int64 written and read as low 32-bit words, checked against BigInt values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HeadOutputs, packFeeds, unpackResults } from '../../src/runtime/feeds.js';
import type { PassRow } from '../../src/runtime/index.js';

const int64s = (values: readonly number[]) => BigInt64Array.from(values, (value) => BigInt(value));

/** Three rows of length 1024 (flat indices past 2^11), ids near GPT-2's vocabulary size: draws, scores, both. */
function rows(): PassRow[] {
  const tokens = (seed: number) => Int32Array.from({ length: 1024 }, (_, i) => (seed * 7919 + i * 104_729) % 50_258);
  return [
    {
      tokens: tokens(1),
      sigma: 0.25,
      draws: { positions: Int32Array.of(0, 1023), uniforms: Float64Array.of(0.1, 1), temperature: 0.7, topP: 0.9, topK: 40 },
    },
    { tokens: tokens(2), sigma: 1.5, scores: { positions: Int32Array.of(5, 6, 1000), targets: Int32Array.of(50_257, 0, 31_337) } },
    {
      tokens: tokens(3),
      sigma: 3,
      draws: { positions: Int32Array.of(512), uniforms: Float64Array.of(0.5), temperature: 0, topP: 1, topK: 0 },
      scores: { positions: Int32Array.of(1023), targets: Int32Array.of(42) },
    },
  ];
}

test('packFeeds: token ids and flat indices as int64, every row’s draws first and then every row’s scores', () => {
  const batch = rows();
  const { feeds, layout } = packFeeds(batch, false);
  const L = 1024;
  assert.deepEqual(feeds.input_ids?.dims, [3, L]);
  assert.deepEqual(feeds.input_ids?.data, int64s(batch.flatMap((row) => Array.from(row.tokens))));
  assert.deepEqual(feeds.draw_index?.data, int64s([0, 1023, 2 * L + 512]));
  assert.deepEqual(feeds.draw_uniform?.data, Float64Array.of(0.1, 1, 0.5));
  assert.deepEqual(feeds.draw_temperature?.data, Float32Array.of(0.7, 0.7, 0));
  assert.deepEqual(feeds.draw_top_p?.data, Float32Array.of(0.9, 0.9, 1));
  assert.deepEqual(feeds.draw_top_k?.data, int64s([40, 40, 0]));
  assert.deepEqual(feeds.score_index?.data, int64s([L + 5, L + 6, L + 1000, 2 * L + 1023]));
  assert.deepEqual(feeds.score_target?.data, int64s([50_257, 0, 31_337, 42]));
  assert.deepEqual(layout, {
    draws: 3,
    rows: [
      { drawStart: 0, drawCount: 2, scoreStart: 3, scoreCount: 0 },
      { drawStart: 2, drawCount: 0, scoreStart: 3, scoreCount: 3 },
      { drawStart: 2, drawCount: 1, scoreStart: 6, scoreCount: 1 },
    ],
  });
  assert.equal(feeds.sigma, undefined, 'a network without time conditioning gets no sigma');
});

test('packFeeds: a pass without draws draws once at position 0 (the head needs one), with neutral settings, and scores after it', () => {
  const scoresOnly = rows().slice(1, 2);
  const { feeds, layout } = packFeeds(scoresOnly, true);
  assert.deepEqual(feeds.draw_index?.data, int64s([0]));
  assert.deepEqual(feeds.draw_uniform?.data, Float64Array.of(0.5));
  assert.deepEqual(feeds.draw_temperature?.data, Float32Array.of(1));
  assert.deepEqual(feeds.draw_top_p?.data, Float32Array.of(1));
  assert.deepEqual(feeds.draw_top_k?.data, int64s([0]));
  assert.deepEqual(layout, { draws: 1, rows: [{ drawStart: 0, drawCount: 0, scoreStart: 1, scoreCount: 3 }] });
  assert.deepEqual(feeds.sigma, { type: 'float32', data: Float32Array.of(1.5), dims: [1] });
});

test('packFeeds: sigma per row for a time-conditioned network', () => {
  assert.deepEqual(packFeeds(rows(), true).feeds.sigma?.data, Float32Array.of(0.25, 1.5, 3));
});

/** Head outputs as onnxruntime hands them back, each array a view at an offset into a larger buffer. */
function outputs(entries: number, width: number): { outputs: HeadOutputs; tokens: bigint[]; top: bigint[] } {
  type ArrayType<T> = new (buffer: ArrayBuffer, offset: number, length: number) => T;
  const view = <T extends BigInt64Array | Float32Array>(Type: ArrayType<T>, values: ArrayLike<number | bigint>): T => {
    const array = new Type(new ArrayBuffer((values.length + 2) * 8), 8, values.length);
    array.set(values as never);
    return array;
  };
  const tokens = Array.from({ length: 3 }, (_, k) => BigInt(50_000 + 100 * k));
  const top = Array.from({ length: entries * width }, (_, k) => BigInt(40_000 + k));
  const floats = (offset: number, count = entries) => Array.from({ length: count }, (_, k) => offset + k / 8);
  return {
    tokens,
    top,
    outputs: {
      draw_token: view(BigInt64Array, tokens),
      draw_logprob: view(Float32Array, floats(-10, 3)),
      logprob: view(Float32Array, floats(-20)),
      logsumexp: view(Float32Array, floats(30)),
      top_token: view(BigInt64Array, top),
      top_logprob: view(Float32Array, floats(-40, entries * width)),
    },
  };
}

test('unpackResults: each row’s draws and scores back from the flat outputs, int64 read from the low words', () => {
  const { layout } = packFeeds(rows(), false);
  const width = 2;
  const { outputs: head, tokens, top } = outputs(7, width);
  const [first, second, third] = unpackResults(head, layout);
  const ids = (values: bigint[]) => Int32Array.from(values, (value) => Number(value));
  const floats = (offset: number, from: number, count: number) => Float32Array.from({ length: count }, (_, k) => offset + (from + k) / 8);

  assert.deepEqual(first?.draws.tokens, ids(tokens.slice(0, 2)));
  assert.deepEqual(first?.draws.sampledLogprobs, floats(-10, 0, 2));
  assert.deepEqual(first?.draws.logprobs, floats(-20, 0, 2));
  assert.deepEqual(first?.draws.topTokens, ids(top.slice(0, 2 * width)));
  assert.deepEqual(first?.draws.topLogprobs, floats(-40, 0, 2 * width));
  assert.equal(first?.scores.logprobs.length, 0);

  assert.equal(second?.draws.tokens.length, 0);
  assert.deepEqual(second?.scores.logprobs, floats(-20, 3, 3));
  assert.deepEqual(second?.scores.logsumexp, floats(30, 3, 3));
  assert.deepEqual(second?.scores.topTokens, ids(top.slice(3 * width, 6 * width)));
  assert.equal(second?.scores.topWidth, width);

  assert.deepEqual(third?.draws.tokens, ids(tokens.slice(2, 3)));
  assert.deepEqual(third?.draws.logsumexp, floats(30, 2, 1));
  assert.deepEqual(third?.scores.logprobs, floats(-20, 6, 1));
  assert.deepEqual(third?.scores.topTokens, ids(top.slice(6 * width, 7 * width)));
});

test('unpackResults: the padding draw of a pass without draws is skipped; scores start after it', () => {
  const { layout } = packFeeds(rows().slice(1, 2), false);
  const { outputs: head, top } = outputs(4, 3);
  const [only] = unpackResults(head, layout);
  assert.equal(only?.draws.tokens.length, 0);
  assert.deepEqual(only?.scores.logprobs, Float32Array.of(-20 + 1 / 8, -20 + 2 / 8, -20 + 3 / 8));
  assert.deepEqual(only?.scores.topTokens, Int32Array.from(top.slice(3), (value) => Number(value)));
});
