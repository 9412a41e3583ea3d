import type { Parameterization } from '../model/index.js';
import type { CanvasLayout } from './canvas-layout.js';
import { FIRST_HITTING_SAMPLERS } from './first-hitting.js';
import { REMASKING_SAMPLERS, type RemaskParams, type RemaskingSampler } from './remasking.js';

export const SAMPLERS = [...FIRST_HITTING_SAMPLERS, ...REMASKING_SAMPLERS] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** The AR baseline's left-to-right procedure: what an AR model runs, never a sampler a request names. */
export const LEFT_TO_RIGHT = 'left-to-right';
/** How a sample is drawn: one of the diffusion samplers, or left to right. */
export type Procedure = SamplerName | typeof LEFT_TO_RIGHT;

export function isRemasking(sampler: Procedure): sampler is RemaskingSampler {
  return (REMASKING_SAMPLERS as readonly string[]).includes(sampler);
}

/** The seed's default eps for plain sampling; semi-autoregressive rounds use 0. */
export const DEFAULT_EPS = 1e-5;

/** How one sample of a request is drawn, on a canvas laid out once by the request's preparation. */
export interface SamplingParams {
  /** Reverse-process steps per round; left to right, the tokens to generate. */
  steps: number;
  sampler: Procedure;
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

/** Facts about the model that the sampler needs. */
export interface ModelFacts {
  maskId: number;
  modelLength: number;
  vocabSize: number;
  timeConditioned: boolean;
  /** subs: MDLM; sedd: SEDD's log scores (its analytic sampler); ar: causal, so the entry at p predicts p + 1. */
  parameterization: Parameterization;
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
