import * as ort from 'onnxruntime-node';
import { TimeGrid, totalNoise } from '../../src/sampling/index.js';
import { softmax } from './stats.js';

/**
 * The exact output distribution of the seed's ancestral `ddpm` sampler (spec §4), computed
 * by carrying the probability of every partial state through every step: at step i each
 * masked position independently unmasks with probability (t_i − t_{i+1})/t_i, taking a
 * token from p_x0 (the logits head's softmax at the current state, mask excluded); after
 * the last step the positions still masked take the argmax. Only feasible for tiny
 * vocabularies and lengths, which is what it is for.
 */
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
}

type Distribution = Map<string, { tokens: number[]; probability: number }>;

export async function exactDistribution(setup: ExactSetup): Promise<Map<string, number>> {
  let distribution: Distribution = new Map([[setup.initial.join(','), { tokens: setup.initial, probability: 1 }]]);
  const semiAr = setup.strides > 0;
  const grid = new TimeGrid(setup.steps, semiAr ? 0 : setup.eps);
  for (let round = 0; round <= setup.strides; round++) {
    const start = round * setup.stride;
    for (let step = 0; step < setup.steps; step++) {
      const unmask = (grid.time(step) - grid.time(step + 1)) / grid.time(step);
      const sigma = setup.timeConditioned ? totalNoise(grid.time(step)) : 0;
      distribution = await ancestralStep(setup, distribution, start, unmask, sigma);
    }
    if (!semiAr) distribution = await noiseRemoval(setup, distribution, setup.timeConditioned ? totalNoise(setup.eps) : 0);
  }
  return new Map([...distribution.values()].map(({ tokens, probability }) => [tokens.join(','), probability]));
}

async function ancestralStep(setup: ExactSetup, distribution: Distribution, start: number, unmask: number, sigma: number): Promise<Distribution> {
  const states = [...distribution.values()];
  const p0 = await predictions(setup, states.map((s) => s.tokens), start, sigma);
  const next: Distribution = new Map();
  states.forEach((state, index) => {
    let partial = [{ tokens: state.tokens, probability: state.probability }];
    for (let offset = 0; offset < setup.windowLength; offset++) {
      const position = start + offset;
      if (state.tokens[position] !== setup.maskId) continue;
      const probabilities = (p0[index] as Float64Array[])[offset] as Float64Array;
      partial = partial.flatMap((candidate) => [
        { tokens: candidate.tokens, probability: candidate.probability * (1 - unmask) },
        ...[...probabilities].flatMap((p, token) =>
          p === 0 ? [] : [{ tokens: withToken(candidate.tokens, position, token), probability: candidate.probability * unmask * p }],
        ),
      ]);
    }
    for (const candidate of partial) accumulate(next, candidate.tokens, candidate.probability);
  });
  return next;
}

async function noiseRemoval(setup: ExactSetup, distribution: Distribution, sigma: number): Promise<Distribution> {
  const states = [...distribution.values()];
  const p0 = await predictions(setup, states.map((s) => s.tokens), 0, sigma);
  const next: Distribution = new Map();
  states.forEach((state, index) => {
    const tokens = state.tokens.map((token, position) =>
      token === setup.maskId ? argmax((p0[index] as Float64Array[])[position] as Float64Array) : token,
    );
    accumulate(next, tokens, state.probability);
  });
  return next;
}

/** p_x0 at every window position of every state, from one batched run of the logits head. */
async function predictions(setup: ExactSetup, states: number[][], start: number, sigma: number): Promise<Float64Array[][]> {
  const L = setup.windowLength;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(states.flatMap((tokens) => tokens.slice(start, start + L)), BigInt), [states.length, L]),
  };
  if (setup.timeConditioned) feeds.sigma = new ort.Tensor('float32', new Float32Array(states.length).fill(sigma), [states.length]);
  const logits = (await setup.session.run(feeds)).logits?.data as Float32Array;
  const V = logits.length / (states.length * L);
  return states.map((_, row) =>
    Array.from({ length: L }, (__, offset) => softmax(logits.subarray((row * L + offset) * V, (row * L + offset + 1) * V), 1, setup.maskId)),
  );
}

function withToken(tokens: number[], position: number, token: number): number[] {
  const copy = tokens.slice();
  copy[position] = token;
  return copy;
}

function accumulate(distribution: Distribution, tokens: number[], probability: number): void {
  if (probability === 0) return;
  const key = tokens.join(',');
  const entry = distribution.get(key);
  if (entry === undefined) distribution.set(key, { tokens, probability });
  else entry.probability += probability;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
