export const SCORE_METHODS = ['elbo', 'ar'] as const;
export type ScoreMethod = (typeof SCORE_METHODS)[number];

/** One item as the network sees it: a window of tokens, and the positions of it that are scored. */
export interface ScoreWindow {
  /** The whole window: context, then what is scored, then (for a completion) masked positions. */
  tokens: Int32Array;
  /** Scored positions [start, end); everything before start is context, never masked or scored. */
  start: number;
  end: number;
}

/** The top alternatives the model gave at each scored position: `width` per position. */
export interface ScoredAlternatives {
  tokens: Int32Array;
  logprobs: Float32Array;
  width: number;
}

export interface ItemScore {
  /** Negative log-likelihood in nats over the scored tokens (elbo: an upper bound, its estimate). */
  nll: number;
  /** Each scored position's share of nll: the shares sum to it. */
  tokenNll: Float64Array;
  /** Standard error of the estimate (elbo); undefined for the exact ar. */
  stderr: number | undefined;
  forwardPasses: number;
  /** ar only: the model's alternatives at each scored position. */
  alternatives?: ScoredAlternatives;
}
