/** The one place an output's length and rounds are decided, including a completion's plan for max_tokens. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialCanvas, layoutCanvas } from '../../src/sampling/index.js';

const MODEL_LENGTH = 32;
const tokens = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

test('a window of the given length, or of the model when none is given', () => {
  assert.deepEqual(layoutCanvas({ head: [], tail: [] }, MODEL_LENGTH), { totalLength: 32, windowLength: 32, rounds: 1, stride: 0 });
  assert.deepEqual(layoutCanvas({ head: tokens(2), tail: [], windowLength: 16 }, MODEL_LENGTH), { totalLength: 16, windowLength: 16, rounds: 1, stride: 0 });
});

test('semi-autoregressive rounds give L + n·s tokens; bad strides and lengths name their field', () => {
  assert.deepEqual(layoutCanvas({ head: [], tail: [], windowLength: 16, semiAr: { strideLength: 4, numStrides: 3 } }, MODEL_LENGTH), { totalLength: 28, windowLength: 16, rounds: 4, stride: 4 });
  assert.throws(() => layoutCanvas({ head: [], tail: [], windowLength: 33 }, MODEL_LENGTH), { code: 'invalid_argument', details: { param: 'length' } });
  assert.throws(() => layoutCanvas({ head: [], tail: [], windowLength: 8, semiAr: { strideLength: 9, numStrides: 1 } }, MODEL_LENGTH), { code: 'invalid_argument', details: { param: 'semi_ar' } });
});

test('a prompt and suffix that fill the output leave nothing to generate: prompt_too_long, with the hint to use semi_ar', () => {
  assert.throws(() => layoutCanvas({ head: tokens(20), tail: tokens(12) }, MODEL_LENGTH), (error: Error & { code?: string }) => error.code === 'prompt_too_long' && /use semi_ar/.test(error.message));
  assert.equal(layoutCanvas({ head: tokens(40), tail: [], semiAr: { strideLength: 16, numStrides: 1 } }, MODEL_LENGTH).totalLength, 48);
});

test('a completion plan: exactly prompt + max_tokens + suffix when it fits, else strides of half the model until covered', () => {
  assert.deepEqual(layoutCanvas({ head: tokens(3), tail: tokens(2), generate: 10 }, MODEL_LENGTH), { totalLength: 15, windowLength: 15, rounds: 1, stride: 0 });
  assert.deepEqual(layoutCanvas({ head: tokens(3), tail: [], generate: 29 }, MODEL_LENGTH), { totalLength: 32, windowLength: 32, rounds: 1, stride: 0 });
  // 3 + 40 = 43 tokens: the window of 32 plus ceil(11 / 16) = 1 stride of 16.
  assert.deepEqual(layoutCanvas({ head: tokens(3), tail: [], generate: 40 }, MODEL_LENGTH), { totalLength: 48, windowLength: 32, rounds: 2, stride: 16 });
  assert.deepEqual(layoutCanvas({ head: tokens(3), tail: [], generate: 40, semiAr: { strideLength: 8, numStrides: 2 } }, MODEL_LENGTH), { totalLength: 48, windowLength: 32, rounds: 3, stride: 8 });
  assert.throws(() => layoutCanvas({ head: tokens(3), tail: [], generate: 40, semiAr: { strideLength: 4, numStrides: 1 } }, MODEL_LENGTH), { code: 'invalid_argument', details: { param: 'semi_ar' } });
});

test('the initial canvas is head, masks, tail', () => {
  const layout = layoutCanvas({ head: [7, 8], tail: [9], windowLength: 6 }, MODEL_LENGTH);
  assert.deepEqual(Array.from(initialCanvas(layout, [7, 8], [9], 0)), [7, 8, 0, 0, 0, 9]);
});
