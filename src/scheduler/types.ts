import type { SamplingParams, StepEvent } from '../sampling/index.js';

export interface SchedulerOptions {
  /** Most sequences in one forward pass. */
  maxBatch: number;
  /** Most sequences (samples of all requests) admitted at once; more is refused as overloaded. */
  maxQueue: number;
  /** How long a free worker waits for a batch to fill before running a partial one. */
  batchWaitMs: number;
}

export interface JobSpec {
  /** Every sample shares these; sample j gets random stream j of params.seed. */
  params: SamplingParams;
  numSamples: number;
  /** Called once the request is admitted, before its first pass, with the output as it starts (prompt, masks, suffix). */
  onAdmitted?: (initialTokens: Int32Array) => void;
  onStep?: (sample: number, event: StepEvent) => void;
  signal?: AbortSignal;
}

export interface SampleResult {
  tokens: Int32Array;
  logprobs: Float32Array;
  forwardPasses: number;
}

export interface JobStats {
  /** Reverse-process steps per sample (T per round). */
  steps: number;
  /** Forward passes summed over the samples. */
  forwardPasses: number;
  wallMs: number;
  /** From submission to the first forward pass that included this request. */
  queuedMs: number;
}

export interface JobResult {
  samples: SampleResult[];
  stats: JobStats;
}

/** What the scheduler reports about each batched pass (for metrics). */
export interface PassReport {
  rows: number;
  positionsPerRow: number;
  length: number;
  computeMs: number;
  ok: boolean;
}
