/**
 * Exact values of what the likelihood estimators estimate, computed from the logits head
 * alone on models small enough to enumerate:
 *  - the NELBO of spec §8 as the sum over every mask pattern of the scored positions, each
 *    pattern weighted by ∫ (1/t)·q^k·(1 − q)^(m − k) du with t = ε + (1 − ε)u and
 *    q = (1 − 1e-3)t, integrated exactly as a polynomial for a model that ignores t and by
 *    Gauss–Legendre quadrature for a time-conditioned one;
 *  - the left-to-right log-likelihood by direct passes, one per position.
 */
import * as ort from 'onnxruntime-node';
import { softmax } from './stats.js';

const SAMPLING_EPS = 1e-3;
const SCHEDULE_EPS = 1e-3;

export interface ExactItem {
  session: ort.InferenceSession;
  maskId: number;
  tokens: number[];
  /** Scored positions [start, end). */
  start: number;
  end: number;
  timeConditioned: boolean;
}

/** Every mask pattern of the scored positions, as the masked positions. */
function patterns(start: number, end: number): number[][] {
  const positions = Array.from({ length: end - start }, (_, i) => start + i);
  return Array.from({ length: 2 ** positions.length }, (_, bits) => positions.filter((_, i) => (bits >> i) & 1));
}

/** ∫_ε^1 (1/t)·q^k·(1 − q)^(m − k) dt / (1 − ε) with q = a·t, a = 1 − 1e-3, by expanding (1 − a·t)^(m − k). */
function patternWeight(k: number, m: number): number {
  if (k === 0) return 0;
  const a = 1 - SCHEDULE_EPS;
  let integral = 0;
  for (let j = 0; j <= m - k; j++) {
    const power = k - 1 + j;
    integral += binomial(m - k, j) * (-a) ** j * (1 - SAMPLING_EPS ** (power + 1)) / (power + 1);
  }
  return (a ** k * integral) / (1 - SAMPLING_EPS);
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

async function maskedLogProbabilities(item: ExactItem, masked: number[][], sigma: number[]): Promise<number[][]> {
  const rows = masked.map((positions) => item.tokens.map((token, p) => (positions.includes(p) ? item.maskId : token)));
  const all = await logProbabilitiesOfTokens(item.session, rows, item.tokens, item.maskId, sigma);
  return all;
}

/** For each row, log p_x0(tokens[p]) at every position p (the true tokens, not the row's). */
async function logProbabilitiesOfTokens(session: ort.InferenceSession, rows: number[][], truth: number[], maskId: number, sigma: number[]): Promise<number[][]> {
  const length = truth.length;
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, length]) };
  if (session.inputNames.includes('sigma')) feeds.sigma = new ort.Tensor('float32', Float32Array.from(sigma), [rows.length]);
  const logits = (await session.run(feeds)).logits?.data as Float32Array;
  const vocab = logits.length / (rows.length * length);
  return rows.map((_, r) =>
    truth.map((token, p) => Math.log(softmax(logits.subarray((r * length + p) * vocab, (r * length + p + 1) * vocab), 1, maskId)[token] as number)),
  );
}

/** The exact NELBO of spec §8 for a model that ignores t. */
export async function exactNelbo(item: ExactItem): Promise<number> {
  const masks = patterns(item.start, item.end);
  const logs = await maskedLogProbabilities(item, masks, masks.map(() => 0));
  const m = item.end - item.start;
  return masks.reduce((total, masked, r) => total + patternWeight(masked.length, m) * masked.reduce((sum, p) => sum - ((logs[r] as number[])[p] as number), 0), 0);
}

/** Gauss–Legendre nodes and weights on [-1, 1], by Newton's method on the Legendre polynomial. */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * derivative * derivative));
  }
  return { nodes, weights };
}

/** The exact NELBO for a time-conditioned model: the t-integral by 48-point Gauss–Legendre per pattern. */
export async function exactNelboTimeConditioned(item: ExactItem, nodes = 48): Promise<number> {
  const masks = patterns(item.start, item.end).filter((masked) => masked.length > 0);
  const m = item.end - item.start;
  const { nodes: xs, weights } = gaussLegendre(nodes);
  const times = xs.map((x) => SAMPLING_EPS + ((1 - SAMPLING_EPS) * (x + 1)) / 2);
  const a = 1 - SCHEDULE_EPS;
  let total = 0;
  for (const [j, t] of times.entries()) {
    const sigma = -Math.log1p(-a * t);
    const logs = await maskedLogProbabilities(item, masks, masks.map(() => sigma));
    const q = a * t;
    const atT = masks.reduce((sum, masked, r) => sum + (q ** masked.length * (1 - q) ** (m - masked.length) * masked.reduce((s, p) => s - ((logs[r] as number[])[p] as number), 0)) / t, 0);
    // du = dt/(1 − ε) and dt = (1 − ε)/2 dx: the (1 − ε) cancel.
    total += ((weights[j] as number) / 2) * atT;
  }
  return total;
}

/** Σ log p(x_i | x_<i) over the scored positions, each by its own pass with i.. masked. */
export async function exactLeftToRight(item: ExactItem): Promise<number[]> {
  const positions = Array.from({ length: item.end - item.start }, (_, i) => item.start + i);
  const rows = positions.map((i) => item.tokens.map((token, p) => (p >= i ? item.maskId : token)));
  const logs = await logProbabilitiesOfTokens(item.session, rows, item.tokens, item.maskId, rows.map(() => 0));
  return positions.map((i, r) => (logs[r] as number[])[i] as number);
}
