/**
 * The exact output law of every sampler, by carrying the probability of every state of the
 * output through every step, from the logits head alone (spec §4, §5, §9, written again here
 * from the spec, not from src/sampling):
 *  - ddpm / ddpm_cache / analytic: at step t → s each masked position unmasks with
 *    probability (t − s)/t and takes a token from the draw distribution; noise removal takes
 *    the argmax (analytic: a draw);
 *  - ReMDM: each unmasked position of the round remasks with probability σ, each masked one
 *    unmasks with probability (α_s − (1 − σ)α_t)/(1 − α_t), with remdm-loop's phases and
 *    remdm-conf's confidence shares; noise removal takes the argmax.
 * The draw distribution is softmax(logits / temperature) with the mask excluded, truncated by
 * top-k then top-p (stats.ts's reference). Only feasible for tiny vocabularies and windows.
 * A state is its tokens, plus, for remdm-conf alone, the probability each was drawn with: no
 * other sampler's next step depends on those, so states with the same tokens merge exactly and
 * their number stays at most (V + 1)^positions (keeping them apart made remdm-loop's
 * semi-autoregressive case take minutes and 11 GB).
 */
import * as ort from 'onnxruntime-node';
import { softmax, truncated } from './stats.js';

const SCHEDULE_EPS = 1e-3;

export interface SamplerLaw {
  sampler: 'ddpm' | 'ddpm_cache' | 'analytic' | 'remdm-cap' | 'remdm-rescale' | 'remdm-loop' | 'remdm-conf';
  temperature: number;
  topP: number;
  topK: number;
  eta: number;
  tOn: number;
  tOff: number;
  alphaOn: number;
}

export interface ExactSetup {
  session: ort.InferenceSession;
  timeConditioned: boolean;
  maskId: number;
  steps: number;
  eps: number;
  /** The output as it starts: fixed tokens and masks. */
  initial: number[];
  windowLength: number;
  /** Semi-autoregressive stride and strides (rounds = strides + 1); 0 strides for plain sampling. */
  stride: number;
  strides: number;
  law: SamplerLaw;
}

interface State {
  tokens: number[];
  /** The probability each position's token was drawn with (remdm-conf). */
  confidence: number[];
  probability: number;
}

type Distribution = Map<string, State>;

export async function exactOutputLaw(setup: ExactSetup): Promise<Map<string, number>> {
  const semiAr = setup.strides > 0;
  const eps = semiAr ? 0 : setup.eps;
  const delta = (1 - eps) / setup.steps;
  const time = (i: number) => (i === setup.steps ? eps : 1 - i * delta);
  let distribution: Distribution = new Map([[key(setup.initial, []), { tokens: setup.initial, confidence: setup.initial.map(() => 0), probability: 1 }]]);
  for (let round = 0; round <= setup.strides; round++) {
    const start = round * setup.stride;
    // A round acts on the positions masked when it begins: the same in every state (earlier rounds leave none masked).
    const [first] = distribution.values() as IterableIterator<State>;
    const active = Array.from({ length: setup.windowLength }, (_, i) => start + i).filter((p) => (first as State).tokens[p] === setup.maskId);
    for (let step = 0; step < setup.steps; step++) distribution = await reverseStep(setup, distribution, start, active, time(step), time(step + 1));
    if (!semiAr) distribution = await noiseRemoval(setup, distribution, time(setup.steps));
  }
  const law = new Map<string, number>();
  for (const state of distribution.values()) law.set(state.tokens.join(','), (law.get(state.tokens.join(',')) ?? 0) + state.probability);
  return law;
}

function key(tokens: number[], confidence: number[]): string {
  return `${tokens.join(',')}|${confidence.join(',')}`;
}

/**
 * The draw distribution of each window position of each state, from one batched run of the
 * logits head over the distinct windows (states differing only in confidence share theirs).
 */
async function drawDistributions(setup: ExactSetup, states: State[], start: number, t: number, greedy: boolean): Promise<Float64Array[][]> {
  const L = setup.windowLength;
  const windows = new Map(states.map((state) => [state.tokens.slice(start, start + L).join(','), state.tokens.slice(start, start + L)]));
  const rows = [...windows.values()];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, L]),
  };
  if (setup.timeConditioned) feeds.sigma = new ort.Tensor('float32', new Float32Array(rows.length).fill(-Math.log1p(-(1 - SCHEDULE_EPS) * t)), [rows.length]);
  const logits = (await setup.session.run(feeds)).logits?.data as Float32Array;
  const V = logits.length / (rows.length * L);
  const byWindow = new Map(
    [...windows.keys()].map((window, row) => [
      window,
      Array.from({ length: L }, (_, offset) => {
        const z = logits.subarray((row * L + offset) * V, (row * L + offset + 1) * V);
        if (greedy) return oneHot(z, setup.maskId);
        const { temperature, topK, topP } = setup.law;
        return temperature === 0 ? oneHot(z, setup.maskId) : truncated(softmax(z, temperature, setup.maskId), topK, topP);
      }),
    ]),
  );
  return states.map((state) => byWindow.get(state.tokens.slice(start, start + L).join(',')) as Float64Array[]);
}

function oneHot(logits: ArrayLike<number>, maskId: number): Float64Array {
  let best = maskId === 0 ? 1 : 0;
  for (let v = 0; v < logits.length; v++) if (v !== maskId && (logits[v] as number) > (logits[best] as number)) best = v;
  const result = new Float64Array(logits.length);
  result[best] = 1;
  return result;
}

/** One step's law from t to s: the unmasking probability of a masked position and the remasking rate σ of an unmasked one (before remdm-conf's share). */
function stepLaw(law: SamplerLaw, t: number, s: number): { unmask: number; sigma: number } {
  const { sampler, eta, tOn, tOff, alphaOn } = law;
  if (sampler === 'ddpm' || sampler === 'ddpm_cache' || sampler === 'analytic') return { unmask: (t - s) / t, sigma: 0 };
  let alphaT = 1 - t;
  let alphaS = 1 - s;
  let sigma: number;
  if (sampler === 'remdm-loop') {
    if (t > tOn) [alphaT, alphaS, sigma] = [((1 - t) * alphaOn) / (1 - tOn), Math.min(alphaOn, ((1 - s) * alphaOn) / (1 - tOn)), 0];
    else if (t > tOff) [alphaT, alphaS, sigma] = [alphaOn, alphaOn, eta];
    else [alphaT, alphaS, sigma] = [1 - (t * (1 - alphaOn)) / tOff, 1 - (s * (1 - alphaOn)) / tOff, 0];
  } else {
    const sigmaMax = alphaT > 0 ? Math.min(1, (1 - alphaS) / alphaT) : 1;
    sigma = sampler === 'remdm-cap' ? Math.min(eta, alphaT > 0 ? (1 - alphaS) / alphaT : eta) : sampler === 'remdm-rescale' ? eta * sigmaMax : sigmaMax;
  }
  // remdm-conf gives a masked position σ = 0.
  const sigmaMasked = sampler === 'remdm-conf' ? 0 : sigma;
  return { unmask: Math.min(1, Math.max(0, (alphaS - (1 - sigmaMasked) * alphaT) / (1 - alphaT))), sigma };
}

/** Each active position's chance of changing at this step in this state: unmasking when masked, remasking when not. */
function fates(setup: ExactSetup, state: State, active: number[], t: number, s: number): Map<number, number> {
  const { unmask, sigma } = stepLaw(setup.law, t, s);
  const masked = (p: number) => state.tokens[p] === setup.maskId;
  const unmasked = active.filter((p) => !masked(p));
  const weights = unmasked.map((p) => Math.exp(-(state.confidence[p] as number)));
  const total = weights.reduce((sum, w) => sum + w, 0);
  const share = (p: number) => (setup.law.sampler === 'remdm-conf' ? (weights[unmasked.indexOf(p)] as number) / total : 1);
  return new Map(active.map((p) => [p, masked(p) ? unmask : sigma * share(p)]));
}

/** One position's possible outcomes at a step: [token, the probability it was drawn with, the outcome's probability]. */
type Outcome = [number, number, number];

async function reverseStep(setup: ExactSetup, distribution: Distribution, start: number, active: number[], t: number, s: number): Promise<Distribution> {
  const states = [...distribution.values()];
  const draws = await drawDistributions(setup, states, start, t, false);
  const next: Distribution = new Map();
  states.forEach((state, index) => {
    const laws = fates(setup, state, active, t, s);
    const outcomes = active.map((p): Outcome[] => {
      const chance = laws.get(p) as number;
      const stay: Outcome = [state.tokens[p] as number, state.confidence[p] as number, 1 - chance];
      if (chance === 0) return [stay];
      if (state.tokens[p] !== setup.maskId) return [stay, [setup.maskId, 0, chance]];
      return [stay, ...drawnOutcomes((draws[index] as Float64Array[])[p - start] as Float64Array, chance)];
    });
    branch(next, state, active, outcomes, setup.law.sampler === 'remdm-conf');
  });
  return next;
}

async function noiseRemoval(setup: ExactSetup, distribution: Distribution, eps: number): Promise<Distribution> {
  const states = [...distribution.values()];
  const draws = await drawDistributions(setup, states, 0, eps, setup.law.sampler !== 'analytic');
  const next: Distribution = new Map();
  states.forEach((state, index) => {
    const masked = state.tokens.flatMap((token, p) => (token === setup.maskId ? [p] : []));
    branch(next, state, masked, masked.map((p) => drawnOutcomes((draws[index] as Float64Array[])[p] as Float64Array, 1)), false);
  });
  return next;
}

function drawnOutcomes(probabilities: Float64Array, chance: number): Outcome[] {
  return [...probabilities].flatMap((q, token): Outcome[] => (q === 0 ? [] : [[token, q, chance * q]]));
}

/**
 * Adds to `next` every combination of the positions' outcomes (independent given the state).
 * States are told apart by their tokens, and by their confidences only where the law uses them.
 */
function branch(next: Distribution, state: State, positions: number[], outcomes: Outcome[][], byConfidence: boolean): void {
  const tokens = state.tokens.slice();
  const confidence = state.confidence.slice();
  const visit = (i: number, probability: number): void => {
    if (probability === 0) return;
    if (i === positions.length) {
      const id = key(tokens, byConfidence ? confidence : []);
      const entry = next.get(id);
      if (entry === undefined) next.set(id, { tokens: tokens.slice(), confidence: confidence.slice(), probability });
      else entry.probability += probability;
      return;
    }
    const p = positions[i] as number;
    for (const [token, drawnWith, chance] of outcomes[i] as Outcome[]) {
      tokens[p] = token;
      confidence[p] = drawnWith;
      visit(i + 1, probability * chance);
    }
  };
  visit(0, state.probability);
}

/**
 * Expected forward passes of a ReMDM sampler with one σ for every position (cap, rescale,
 * loop) on `active` positions: the number of masked ones is a Markov chain (each unmasks with
 * the step's probability c, each unmasked remasks with σ); a step needs a pass when at least
 * one unmasks, noise removal when any is left.
 */
export function expectedRemaskPasses(law: SamplerLaw, steps: number, eps: number, active: number): number {
  const delta = (1 - eps) / steps;
  const time = (i: number) => (i === steps ? eps : 1 - i * delta);
  let masked = new Float64Array(active + 1);
  masked[active] = 1;
  let passes = 0;
  for (let step = 0; step < steps; step++) {
    const { unmask: c, sigma } = stepLaw(law, time(step), time(step + 1));
    const next = new Float64Array(active + 1);
    for (let m = 0; m <= active; m++) {
      const pm = masked[m] as number;
      if (pm === 0) continue;
      passes += pm * (1 - (1 - c) ** m);
      for (let u = 0; u <= m; u++) {
        const pu = binomial(m, u) * c ** u * (1 - c) ** (m - u);
        for (let r = 0; r <= active - m; r++) {
          const pr = binomial(active - m, r) * sigma ** r * (1 - sigma) ** (active - m - r);
          next[m - u + r] = (next[m - u + r] as number) + pm * pu * pr;
        }
      }
    }
    masked = next;
  }
  return passes + (eps > 0 ? 1 - (masked[0] as number) : 0);
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}
