import type { CanvasLayout } from './canvas-layout.js';
import { FIRST_HITTING_SAMPLERS } from './first-hitting.js';
import { REMASKING_SAMPLERS, type RemaskParams, type RemaskingSampler } from './remasking.js';
import type { RoundFactory } from './round.js';

export const SAMPLERS = [...FIRST_HITTING_SAMPLERS, ...REMASKING_SAMPLERS] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** The seed's default predictor (ddpm_cache: ddpm's law with a pass only where something unmasks). */
export const DEFAULT_SAMPLER: SamplerName = 'ddpm_cache';

export function isRemasking(sampler: string): sampler is RemaskingSampler {
  return (REMASKING_SAMPLERS as readonly string[]).includes(sampler);
}

/** The seed's default eps for plain sampling; semi-autoregressive rounds use 0. */
export const DEFAULT_EPS = 1e-5;

/** How one sample of a request is drawn, on a canvas laid out once by the request's preparation. */
export interface SamplingParams {
  /** Reverse-process steps per round; left to right, the tokens to generate. */
  steps: number;
  /** The sampler's name, as a response reports it: one of SAMPLERS, or a family's own (left-to-right). */
  sampler: string;
  /** A family's own rounds for this sampler (SEDD's analytic, the AR baseline's left to right); absent: SAMPLER_ROUNDS[sampler]. */
  rounds?: RoundFactory;
  /**
   * Where the model's entry for output position p sits in the window: at p − entryOffset. 1 for
   * a causal model, whose entry at p is the distribution of the token at p + 1; default 0.
   */
  entryOffset?: number;
  /** 1 reproduces the paper; 0 is greedy (argmax at every unmasking). */
  temperature: number;
  /** Nucleus mass kept at each draw; 1 is off. */
  topP: number;
  /** Most likely tokens kept at each draw; 0 is off. */
  topK: number;
  /** The remasking samplers' parameters (their defaults filled in); absent for the others. */
  remask?: RemaskParams;
  layout: CanvasLayout;
  /** The output as it starts: fixed tokens (prompt, suffix) and masks. */
  initial: Int32Array;
  /**
   * End of the time grid for plain sampling (default 1e-5, the seed's); positions still
   * masked at t = eps take the argmax. Semi-autoregressive rounds always use 0.
   */
  eps?: number;
}

/** What the sampler needs to know of the model. */
export interface SamplingModel {
  maskId: number;
  vocabSize: number;
  /** Rows carry sigma(t) only for a time-conditioned network. */
  timeConditioned: boolean;
}

/** A step that changed the sequence: enough for a consumer to rebuild every intermediate state. */
export interface StepEvent {
  round: number;
  step: number;
  t: number;
  /** Forward passes this sample has run so far. */
  forwardPasses: number;
  /** Positions in the whole output (not the window) that took a token at this step. */
  positions: number[];
  tokens: number[];
  /** The model's log-probability of each token, at the step it was drawn (before temperature or truncation). */
  logprobs: number[];
  /** The model's most likely alternatives at each position there, topWidth per position, most likely first. */
  top: { tokens: number[]; logprobs: number[]; width: number };
  /** Positions that went back to the mask at this step. */
  remasked: number[];
  /** No token unmasked so far can go back to the mask later: what is unmasked is final text. */
  settled: boolean;
}

/** Applies a step to an output's token ids: the one way every consumer rebuilds a state. */
export function applyStepEvent(tokens: number[] | Int32Array, event: StepEvent, maskId: number): void {
  for (const position of event.remasked) tokens[position] = maskId;
  event.positions.forEach((position, k) => {
    tokens[position] = event.tokens[k] as number;
  });
}
