import assert from 'node:assert/strict';

/**
 * float16's unit roundoff: rounding to float16 moves a value by at most this fraction of it.
 *
 * The tolerances for fp16 logits follow from it. Along the path to a logit, S = 4·blocks + 1
 * matrix products (qkv, attention out, MLP up, MLP down per block, then the output layer) each
 * see their input and their weights rounded to float16: 2S roundings, each a relative error
 * spread over [−U, U] (standard deviation U/√3). The residual stream, the norms and softmax
 * stay float32 and add nothing comparable. Independent errors add in quadrature, so the logits
 * should move by
 *   rms(error) ≤ (U/√3)·√(2S)·rms(logits),
 * and no single logit by more than
 *   max|error| ≤ 2·U·√(2S)·max|logit|.
 * Measured on the MDLM fixtures: rms 0.77–0.87·U·rms(logits) (the bound is 2.4–2.9), max
 * 0.7–1.2·U·max|logit|. A 1% error in one table (the fp16 rotary sine scaled by 1.01) gives
 * 3.1–3.8·U·rms and fails.
 */
const U = 2 ** -11;

/** The roundings 2S on the path to a logit of a network of `blocks` blocks. */
function roundings(blocks: number): number {
  return 2 * (4 * blocks + 1);
}

interface ErrorStats {
  maxError: number;
  maxLogit: number;
  rmsError: number;
  rmsLogit: number;
}

function errorStats(expected: Float32Array, actual: Float32Array): ErrorStats {
  const mean = expected.reduce((sum, value) => sum + value, 0) / expected.length;
  let maxError = 0;
  let maxLogit = 0;
  let squaredError = 0;
  let squaredDeviation = 0;
  expected.forEach((value, i) => {
    const error = Math.abs((actual[i] as number) - value);
    maxError = Math.max(maxError, error);
    maxLogit = Math.max(maxLogit, Math.abs(value));
    squaredError += error ** 2;
    squaredDeviation += (value - mean) ** 2;
  });
  return { maxError, maxLogit, rmsError: Math.sqrt(squaredError / expected.length), rmsLogit: Math.sqrt(squaredDeviation / expected.length) };
}

/**
 * Asserts that fp16 logits are within float16's rounding of the fp32 ones (the bounds above),
 * and far enough from them to show that float16 really ran; returns the measurements.
 */
export function assertWithinFloat16(full: Float32Array, half: Float32Array, blocks: number): string {
  assert.equal(half.length, full.length);
  const stats = errorStats(full, half);
  const spread = Math.sqrt(roundings(blocks));
  const rmsTolerance = (U / Math.sqrt(3)) * spread * stats.rmsLogit;
  const maxTolerance = 2 * U * spread * stats.maxLogit;
  assert.ok(stats.rmsError <= rmsTolerance, `rms error ${stats.rmsError} > ${rmsTolerance}`);
  assert.ok(stats.maxError <= maxTolerance, `max error ${stats.maxError} > ${maxTolerance}`);
  // The export really computes in float16: float32 alone differs by ~1e-6 from fp32.
  assert.ok(stats.rmsError > (U * stats.rmsLogit) / 20, `rms error ${stats.rmsError} is too small for float16 weights`);
  return (
    `rms error ${(stats.rmsError / (U * stats.rmsLogit)).toFixed(2)}·U·rms(logits), tolerance ${(rmsTolerance / (U * stats.rmsLogit)).toFixed(2)}; ` +
    `max error ${(stats.maxError / (U * stats.maxLogit)).toFixed(2)}·U·max|logit|, tolerance ${(maxTolerance / (U * stats.maxLogit)).toFixed(2)}`
  );
}

/** The largest |actual − expected| over two equally long flat arrays. */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  return worst;
}
