/**
 * Goodness-of-fit helpers. Tests use fixed seeds, so a result never flips between runs; the
 * thresholds are the chi-square critical values at significance ALPHA for the degrees of
 * freedom the data actually has, so a correct sampler passes with probability 1 − ALPHA
 * for any seed and a wrong one fails once the sample is large enough to see it.
 */
import assert from 'node:assert/strict';

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

/**
 * The reference for truncated sampling, written from the definition: keep the top_k most
 * likely tokens (0: all), renormalise, keep the shortest prefix by probability whose mass
 * stays within top_p (at least the most likely token), renormalise again. Every token tied
 * with the last one kept is kept too.
 */
export function truncated(probabilities: Float64Array, topK: number, topP: number): Float64Array {
  const order = Array.from(probabilities.keys()).sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number));
  const ranked = topK > 0 ? order.slice(0, topK) : order;
  const mass = ranked.reduce((sum, token) => sum + (probabilities[token] as number), 0);
  let kept = ranked.length;
  if (topP < 1) {
    let cumulative = 0;
    kept = 0;
    for (const token of ranked) {
      cumulative += (probabilities[token] as number) / mass;
      if (cumulative > topP * (1 + 1e-12)) break;
      kept += 1;
    }
    kept = Math.max(1, kept);
  }
  const cut = probabilities[ranked[kept - 1] as number] as number;
  const weights = probabilities.map((p) => (p >= cut ? p : 0));
  const total = weights.reduce((sum, p) => sum + p, 0);
  return weights.map((p) => p / total);
}

/**
 * Asserts that `observed` outcomes (token sequences) follow the `exact` law (outcome key
 * "a,b,c" → probability, summing to 1): every outcome possible, and chi-square below its
 * threshold. The fit is printed as the test's diagnostic and returned.
 */
export function assertFollowsLaw(t: { diagnostic(message: string): void }, label: string, observed: ArrayLike<number>[], exact: Map<string, number>): ChiSquareResult {
  const mass = [...exact.values()].reduce((sum, p) => sum + p, 0);
  assert.ok(Math.abs(mass - 1) < 1e-9, `${label}: the exact law sums to ${mass}`);
  const outcomes = [...exact.keys()];
  const counts = new Array<number>(outcomes.length).fill(0);
  for (const tokens of observed) {
    const index = outcomes.indexOf(Array.from(tokens).join(','));
    assert.ok(index >= 0, `${label}: outcome ${Array.from(tokens)} has probability 0 under the exact law`);
    counts[index] = (counts[index] as number) + 1;
  }
  const fit = chiSquare(counts, outcomes.map((key) => exact.get(key) as number));
  t.diagnostic(`${label}: ${outcomes.length} outcomes, chi-square ${fit.statistic.toFixed(1)} on ${fit.degreesOfFreedom} df, threshold ${fit.threshold.toFixed(1)} (alpha ${ALPHA}, n ${observed.length})`);
  assert.ok(fit.statistic < fit.threshold, `${label}: chi-square ${fit.statistic} ≥ ${fit.threshold}`);
  return fit;
}
