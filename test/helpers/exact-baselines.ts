/**
 * The exact laws of the baselines' procedures, from the logits head alone, written from the
 * seed's diffusion.py (not from src/sampling or src/scoring):
 *  - SEDD's analytic sampler: at each step every position's next value is drawn from
 *    stag_score · transp_transition (`_staggered_score`, `_transp_transition`) with the log
 *    score of `_sedd_parameterization`; the seed's Gumbel argmax never picks a negative
 *    weight and picks the others in proportion; `_denoiser_update` zeroes the mask's weight;
 *  - SEDD's NELBO: E_t E_mask Σ_masked dσ/dt · (pos_term − neg_term + const) (`_score_entropy`),
 *    every mask pattern enumerated, the t-integral by Gauss–Legendre in σ, where dσ/dt·dt = dσ;
 *  - the AR baseline's left-to-right sampler: each token from the causal conditional (the
 *    entry one position before it), tempered and truncated as a draw is.
 */
import * as ort from 'onnxruntime-node';
import { gaussLegendre } from './exact-likelihood.js';
import { softmax, truncated } from './stats.js';

const SCHEDULE_EPS = 1e-3;
const SAMPLING_EPS = 1e-3;
const totalNoise = (t: number) => -Math.log1p(-(1 - SCHEDULE_EPS) * t);

async function logitsRows(session: ort.InferenceSession, rows: number[][], sigma?: number[]): Promise<Float32Array[][]> {
  const length = (rows[0] as number[]).length;
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, length]) };
  if (sigma !== undefined) feeds.sigma = new ort.Tensor('float32', Float32Array.from(sigma), [rows.length]);
  const logits = (await session.run(feeds)).logits?.data as Float32Array;
  const V = logits.length / (rows.length * length);
  return rows.map((_, r) => Array.from({ length }, (__, p) => logits.subarray((r * length + p) * V, (r * length + p + 1) * V)));
}

/** The seed's categorical at one position: stag_score · transp_transition, read as the law the Gumbel argmax draws. */
function seddPositionLaw(logits: ArrayLike<number>, x: number, maskId: number, sigma: number, dsigma: number, denoiser: boolean): Float64Array {
  const V = logits.length;
  const score = Float64Array.from(logits, (z, y) => (y === x ? 1 : Math.exp(z - Math.log(Math.expm1(sigma)) - Math.log(V - 1))));
  const total = score.reduce((sum, value) => sum + value, 0);
  const stag = score.map((value) => value * Math.exp(dsigma));
  stag[maskId] = (stag[maskId] as number) + (1 - Math.exp(dsigma)) * total;
  const probs = stag.map((value, y) => value * ((y === x ? Math.exp(-dsigma) : 0) + (x === maskId ? 1 - Math.exp(-dsigma) : 0)));
  if (denoiser) probs[maskId] = 0;
  const weights = probs.map((value) => Math.max(value, 0));
  const sum = weights.reduce((acc, value) => acc + value, 0);
  return weights.map((value) => value / sum);
}

type Law = Map<string, number>;

/** Carries every state through one step in which each position moves independently with its own law. */
function advance(law: Law, laws: Float64Array[][]): Law {
  const next: Law = new Map();
  [...law.values()].forEach((probability, s) => {
    let partial: [number[], number][] = [[[], probability]];
    for (const positionLaw of laws[s] as Float64Array[]) {
      partial = partial.flatMap(([tokens, p]) => [...positionLaw].flatMap((q, y): [number[], number][] => (q === 0 ? [] : [[[...tokens, y], p * q]])));
    }
    for (const [tokens, p] of partial) next.set(tokens.join(','), (next.get(tokens.join(',')) ?? 0) + p);
  });
  return next;
}

export interface SeddLawSetup {
  session: ort.InferenceSession;
  maskId: number;
  steps: number;
  eps: number;
  initial: number[];
}

/**
 * The law of the seed's analytic SEDD sampler after steps 0..`through` (default: all of them,
 * the output): T analytic steps on linspace(1, eps, T + 1), then the denoiser step.
 */
export async function exactSeddLaw(setup: SeddLawSetup, through = setup.steps): Promise<Law> {
  const time = (i: number) => (i === setup.steps ? setup.eps : 1 - (i * (1 - setup.eps)) / setup.steps);
  let law: Law = new Map([[setup.initial.join(','), 1]]);
  for (let step = 0; step <= through; step++) {
    const denoiser = step === setup.steps;
    const sigma = totalNoise(time(step));
    const dsigma = denoiser ? sigma : sigma - totalNoise(time(step + 1));
    const states = [...law.keys()].map((key) => key.split(',').map(Number));
    const logits = await logitsRows(setup.session, states, states.map(() => sigma));
    law = advance(law, states.map((tokens, s) => tokens.map((x, p) => seddPositionLaw((logits[s] as Float32Array[])[p] as Float32Array, x, setup.maskId, sigma, dsigma, denoiser))));
  }
  return law;
}

/** The seed's SEDD NELBO of `tokens` with positions [start, end) scored (the rest is context). */
export async function exactSeddNelbo(session: ort.InferenceSession, tokens: number[], start: number, maskId: number, nodes = 48): Promise<number> {
  const scored = Array.from({ length: tokens.length - start }, (_, i) => start + i);
  const patterns = Array.from({ length: 2 ** scored.length - 1 }, (_, bits) => scored.filter((__, i) => ((bits + 1) >> i) & 1));
  const rows = patterns.map((masked) => tokens.map((token, p) => (masked.includes(p) ? maskId : token)));
  const [low, high] = [totalNoise(SAMPLING_EPS), totalNoise(1)];
  const { nodes: xs, weights } = gaussLegendre(nodes);
  let total = 0;
  for (const [j, x] of xs.entries()) {
    const sigma = low + ((high - low) * (x + 1)) / 2;
    const logits = await logitsRows(session, rows, rows.map(() => sigma));
    const q = -Math.expm1(-sigma);
    const atSigma = patterns.reduce((sum, masked, r) => {
      const probability = q ** masked.length * (1 - q) ** (scored.length - masked.length);
      const entropy = masked.reduce((acc, p) => acc + scoreEntropy((logits[r] as Float32Array[])[p] as Float32Array, tokens[p] as number, maskId, sigma), 0);
      return sum + probability * entropy;
    }, 0);
    total += (((weights[j] as number) * (high - low)) / 2) * atSigma;
  }
  // t is uniform on [ε, 1]: the density 1/(1 − ε); dσ/dt·dt = dσ took the loss's weight.
  return total / (1 - SAMPLING_EPS);
}

/** `_score_entropy` at one masked position: Σ_{y≠mask} score_y − q·log score_{x0} + q(log q − 1), q = 1/(e^σ − 1). */
function scoreEntropy(logits: ArrayLike<number>, target: number, maskId: number, sigma: number): number {
  const V = logits.length;
  const logScore = Float64Array.from(logits, (z, y) => (y === maskId ? 0 : z - Math.log(Math.expm1(sigma)) - Math.log(V - 1)));
  const q = 1 / Math.expm1(sigma);
  const positive = logScore.reduce((sum, value, y) => (y === maskId ? sum : sum + Math.exp(value)), 0);
  return positive - q * (logScore[target] as number) + q * (Math.log(q) - 1);
}

export interface ArLawSetup {
  session: ort.InferenceSession;
  maskId: number;
  head: number[];
  /** Tokens generated after the head. */
  generate: number;
  temperature: number;
  topK: number;
  topP: number;
}

/** The law of head + `generate` tokens, each drawn from the causal conditional at the position before it. */
export async function exactArLaw(setup: ArLawSetup): Promise<Law> {
  let law: Law = new Map([[setup.head.join(','), 1]]);
  for (let k = 0; k < setup.generate; k++) {
    const states = [...law.keys()].map((key) => key.split(',').map(Number));
    const logits = await logitsRows(setup.session, states);
    const next: Law = new Map();
    states.forEach((tokens, s) => {
      const z = (logits[s] as Float32Array[])[tokens.length - 1] as Float32Array;
      const probabilities = truncated(softmax(z, setup.temperature, setup.maskId), setup.topK, setup.topP);
      probabilities.forEach((q, y) => {
        if (q > 0) next.set([...tokens, y].join(','), (next.get([...tokens, y].join(',')) ?? 0) + (law.get(tokens.join(',')) as number) * q);
      });
    });
    law = next;
  }
  return law;
}
