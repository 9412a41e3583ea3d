/**
 * Goodness-of-fit helpers. Tests use fixed seeds, so a result never flips between runs; the
 * thresholds are the chi-square critical values at significance ALPHA for the degrees of
 * freedom the data actually has, so a correct sampler passes with probability 1 − ALPHA
 * for any seed and a wrong one fails once the sample is large enough to see it.
 */
export const ALPHA = 1e-4;
/** Standard normal quantile for 1 − ALPHA. */
const Z_ALPHA = 3.719;

export interface ChiSquareResult {
  statistic: number;
  degreesOfFreedom: number;
  threshold: number;
}

/** Pearson's chi-square of `counts` against `probabilities`, pooling cells whose expected count is under 5. */
export function chiSquare(counts: ArrayLike<number>, probabilities: ArrayLike<number>): ChiSquareResult {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i] as number;
  const cells: { observed: number; expected: number }[] = [];
  let pooled = { observed: 0, expected: 0 };
  for (let i = 0; i < counts.length; i++) {
    const expected = n * (probabilities[i] as number);
    if (expected >= 5) cells.push({ observed: counts[i] as number, expected });
    else {
      pooled.observed += counts[i] as number;
      pooled.expected += expected;
    }
  }
  if (pooled.expected > 0 || pooled.observed > 0) cells.push(pooled);
  const statistic = cells.reduce((sum, cell) => sum + (cell.expected === 0 ? (cell.observed > 0 ? Infinity : 0) : (cell.observed - cell.expected) ** 2 / cell.expected), 0);
  const degreesOfFreedom = Math.max(1, cells.length - 1);
  return { statistic, degreesOfFreedom, threshold: chiSquareCritical(degreesOfFreedom) };
}

/** Wilson–Hilferty approximation of the chi-square quantile at 1 − ALPHA. */
export function chiSquareCritical(degreesOfFreedom: number): number {
  const k = degreesOfFreedom;
  return k * (1 - 2 / (9 * k) + Z_ALPHA * Math.sqrt(2 / (9 * k))) ** 3;
}

export function softmax(logits: ArrayLike<number>, temperature = 1, excluded?: number): Float64Array {
  const scaled = Float64Array.from(logits as ArrayLike<number>, (v, i) => (i === excluded ? -Infinity : v / temperature));
  const max = Math.max(...scaled);
  const weights = scaled.map((v) => Math.exp(v - max));
  const total = weights.reduce((s, v) => s + v, 0);
  return weights.map((v) => v / total);
}
