import type { PassRow, RowResult } from '../runtime/index.js';

/** 512 positions through the output layer of a 50k vocabulary is about 100 MB per float64 tensor of the draw. */
export const DEFAULT_BATCH_ENTRIES = 512;

export interface SchedulerOptions {
  /** Most rows in one forward pass. */
  maxBatch: number;
  /** Most draw and score entries in one pass: what bounds the memory of its output layer. */
  maxBatchEntries: number;
  /** Most sequences (samples and scored items of all requests) admitted at once; more is refused as overloaded. */
  maxQueue: number;
  /** How long a free worker waits for a batch to fill before running a partial one. */
  batchWaitMs: number;
}

/**
 * Something that needs forward passes: one sample being generated, or one item being
 * scored. The scheduler knows nothing else about it: it takes the rows a sequence offers,
 * batches them with other sequences' rows, and hands each result back.
 */
export interface Sequence {
  /** The length of every row it offers: only rows of one length share a pass. */
  readonly windowLength: number;
  /** True once it needs nothing more and has nothing in flight. */
  readonly finished: boolean;
  /** The row it would offer now, or undefined (a sampler has none while its row is in flight). */
  peekRow(): PassRow | undefined;
  /** Takes the row peekRow showed; called only when there is one. */
  takeRow(): PassRow;
  /** The result of a row takeRow gave. */
  apply(row: PassRow, result: RowResult): void;
}

export interface JobStats {
  /** Forward passes summed over the job's sequences (a pass counts once for each sequence with a row in it). */
  forwardPasses: number;
  wallMs: number;
  /** From admission to the first forward pass that included this job. */
  queuedMs: number;
}

/** A job admitted to the scheduler: settles when every sequence has finished, or on the first failure. */
export interface JobHandle {
  done: Promise<JobStats>;
}

/** What the engine reports about each forward pass (for metrics). */
export interface PassReport {
  rows: number;
  length: number;
  /** Tokens drawn and scored in the pass. */
  draws: number;
  scores: number;
  computeMs: number;
  ok: boolean;
}
