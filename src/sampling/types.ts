export const SAMPLERS = ['ddpm', 'ddpm_cache'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** The seed's default eps for plain sampling; semi-autoregressive rounds use 0. */
export const DEFAULT_EPS = 1e-5;

export interface SemiArParams {
  strideLength: number;
  numStrides: number;
}

/** What one sample of a request asks for, in tokens. */
export interface SamplingParams {
  /** Window length L: the sequence the network sees (≤ the model's length). */
  length: number;
  steps: number;
  sampler: SamplerName;
  /** 1 reproduces the paper; 0 is greedy (argmax at every unmasking). */
  temperature: number;
  semiAr?: SemiArParams;
  /** Fixed tokens at the start of the output. */
  prefix: readonly number[];
  /** Fixed tokens at the end of the output (infilling between prefix and suffix). */
  suffix: readonly number[];
  seed: number;
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
  timeConditioned: boolean;
}

/** One forward pass one sequence needs: its window, and the positions to draw. */
export interface PassRequest {
  windowStart: number;
  windowLength: number;
  /** Window-relative positions to draw this pass; empty for a ddpm step that unmasks nothing. */
  positions: Int32Array;
  uniforms: Float64Array;
  /** 0 asks for the argmax (noise removal). */
  temperature: number;
  /** sigma(t) for time-conditioned models, else 0. */
  sigma: number;
  round: number;
  step: number;
  t: number;
}

/** A step that changed the sequence: enough for a consumer to rebuild every intermediate state. */
export interface StepEvent {
  round: number;
  step: number;
  t: number;
  /** Forward passes this sample has run so far, this one included. */
  forwardPasses: number;
  /** Positions in the whole output (not the window). */
  positions: number[];
  tokens: number[];
}
