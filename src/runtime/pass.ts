/**
 * What the runtime executes: a batched forward pass of the positions head (src/model/heads.ts),
 * described row by row. A row is one sequence's window and the positions whose predictions it
 * wants: tokens to draw (a sampler's step) and tokens to score (a likelihood estimate). One
 * row may ask for both; rows of every kind share a pass as long as their windows have the same
 * length.
 */

/** What a row asks the head to draw: a sampler's step. */
export interface RowDraws {
  /** Window positions to draw a token at. */
  positions: Int32Array;
  /** One u ∈ (0, 1] per position, for the inverse-CDF draw. */
  uniforms: Float64Array;
  /** Divides the logits; 0 takes the argmax. */
  temperature: number;
  /** Nucleus mass kept; 1 is off. */
  topP: number;
  /** Most likely tokens kept; 0 is off. */
  topK: number;
}

/** What a row asks the head to score: a likelihood estimate's targets. */
export interface RowScores {
  /** Window positions to score. */
  positions: Int32Array;
  /** The token whose log-probability is wanted at each position. */
  targets: Int32Array;
}

export interface PassRow {
  /** The window the network sees; every row of one pass has the same length. */
  tokens: Int32Array;
  /** sigma(t), fed to time-conditioned models only. */
  sigma: number;
  draws?: RowDraws;
  scores?: RowScores;
}

/** The model's distribution at a set of entries: each token's log-probability, the normaliser and the top alternatives. */
export interface EntryDistribution {
  logprobs: Float32Array;
  logsumexp: Float32Array;
  /** `width` alternatives per entry, most likely first: entry e's are [e·width, (e + 1)·width). */
  topTokens: Int32Array;
  topLogprobs: Float32Array;
  topWidth: number;
}

export interface RowResult {
  /** Per draw position: the token drawn, its log-probability under the distribution it was drawn from, and the model's distribution there. */
  draws: EntryDistribution & { tokens: Int32Array; sampledLogprobs: Float32Array };
  /** Per score position: the model's distribution there (logprobs are those of the targets). */
  scores: EntryDistribution;
}

export interface PassOutput {
  /** One per row, in the order the rows were given. */
  results: RowResult[];
  /** Time onnxruntime spent in session.run, on the worker. */
  computeMs: number;
}
