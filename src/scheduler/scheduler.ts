import { EventEmitter } from 'node:events';
import { ErrorCodes, MdlmError } from '../errors.js';
import { SeededRandom } from '../random.js';
import type { ForwardResult, ForwardRuntime } from '../runtime/index.js';
import { type ModelFacts, type PassRequest, SequenceSampler } from '../sampling/index.js';
import { buildBatch, rowTokens } from './batch-builder.js';
import type { JobResult, JobSpec, PassReport, SchedulerOptions } from './types.js';

interface Job {
  spec: JobSpec;
  samplers: SequenceSampler[];
  remaining: number;
  submittedAt: number;
  firstPassAt: number | undefined;
  settled: boolean;
  detachAbort: () => void;
  resolve: (result: JobResult) => void;
  reject: (error: Error) => void;
}

interface Sequence {
  job: Job;
  sample: number;
  sampler: SequenceSampler;
  pass: PassRequest;
}

/**
 * Continuous batching. Every sequence (each sample of each request) waits in one FIFO for
 * its next forward pass; whenever a worker is free, the oldest waiting sequence and the
 * next ones that share its window length form a batch. A sequence goes to the back of the
 * queue after each pass, so a request with many samples cannot starve a newer one, and new
 * requests join the very next batch instead of waiting for running ones to finish.
 */
export class Scheduler extends EventEmitter<{ pass: [PassReport] }> {
  private readonly ready: Sequence[] = [];
  private readonly jobs = new Set<Job>();
  private admitted = 0;
  private waitTimer: NodeJS.Timeout | undefined;
  private waitDeadline: number | undefined;
  private accepting = true;
  /** Callers of idle(), released when the last request settles. */
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runtime: ForwardRuntime,
    private readonly facts: ModelFacts,
    private readonly options: SchedulerOptions,
  ) {
    super();
    runtime.on('idle', () => this.pump());
  }

  /** Sequences admitted and not yet finished. */
  get activeSequences(): number {
    return this.admitted;
  }

  /** Sequences waiting for a forward pass right now. */
  get queueDepth(): number {
    return this.ready.length;
  }

  submit(spec: JobSpec): Promise<JobResult> {
    if (!this.accepting) return Promise.reject(new MdlmError(ErrorCodes.shuttingDown, 'the server is shutting down'));
    if (this.admitted + spec.numSamples > this.options.maxQueue) {
      return Promise.reject(new MdlmError(ErrorCodes.overloaded, `the queue is full (${this.admitted} of ${this.options.maxQueue} sequences in progress); retry later`));
    }
    if (spec.signal?.aborted) return Promise.reject(cancelledError());
    let samplers: SequenceSampler[];
    try {
      samplers = SeededRandom.streams(spec.params.seed, spec.numSamples).map((random) => new SequenceSampler(spec.params, this.facts, random));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<JobResult>((resolve, reject) => {
      const job: Job = {
        spec,
        samplers,
        remaining: samplers.length,
        submittedAt: performance.now(),
        firstPassAt: undefined,
        settled: false,
        detachAbort: () => undefined,
        resolve,
        reject,
      };
      this.jobs.add(job);
      this.admitted += samplers.length;
      if (spec.signal !== undefined) {
        const signal = spec.signal;
        const onAbort = () => this.fail(job, cancelledError());
        signal.addEventListener('abort', onAbort, { once: true });
        job.detachAbort = () => signal.removeEventListener('abort', onAbort);
      }
      spec.onAdmitted?.((samplers[0] as SequenceSampler).canvas.slice());
      samplers.forEach((sampler, sample) => this.enqueue(job, sample, sampler));
      this.pump();
    });
  }

  /** Stops admitting work; running requests carry on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Resolves when no request is in progress. */
  idle(): Promise<void> {
    if (this.jobs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  cancelAll(reason: MdlmError): void {
    for (const job of [...this.jobs]) this.fail(job, reason);
  }

  private enqueue(job: Job, sample: number, sampler: SequenceSampler): void {
    const pass = sampler.nextPass();
    if (pass === undefined) {
      this.finishSample(job);
      return;
    }
    this.ready.push({ job, sample, sampler, pass });
  }

  private pump(): void {
    while (this.ready.length > 0 && this.runtime.idleWorkers > 0) {
      if (this.shouldWaitForMore()) return;
      this.dispatch(this.takeBatch());
    }
  }

  /**
   * With batchWaitMs set, a free worker facing a partial batch waits that long for more
   * sequences before running it: a little latency traded for fuller passes.
   */
  private shouldWaitForMore(): boolean {
    if (this.options.batchWaitMs <= 0 || this.ready.length >= this.options.maxBatch) {
      this.waitDeadline = undefined;
      return false;
    }
    const now = performance.now();
    this.waitDeadline ??= now + this.options.batchWaitMs;
    if (now >= this.waitDeadline) {
      this.waitDeadline = undefined;
      return false;
    }
    clearTimeout(this.waitTimer);
    this.waitTimer = setTimeout(() => this.pump(), Math.ceil(this.waitDeadline - now));
    return true;
  }

  /** The oldest waiting sequence and the next ones with the same window length. */
  private takeBatch(): Sequence[] {
    const length = (this.ready[0] as Sequence).pass.windowLength;
    const batch: Sequence[] = [];
    for (let i = 0; i < this.ready.length && batch.length < this.options.maxBatch; ) {
      const sequence = this.ready[i] as Sequence;
      if (sequence.pass.windowLength === length) {
        batch.push(sequence);
        this.ready.splice(i, 1);
      } else {
        i++;
      }
    }
    return batch;
  }

  private dispatch(batch: Sequence[]): void {
    const now = performance.now();
    for (const { job } of batch) job.firstPassAt ??= now;
    const forward = buildBatch(batch.map(({ pass, sampler }) => ({ pass, canvas: sampler.canvas })), this.facts.timeConditioned);
    const report = { rows: forward.rows, positionsPerRow: forward.positionsPerRow, length: forward.length };
    this.runtime.run(forward).then(
      (result) => {
        this.emit('pass', { ...report, computeMs: result.computeMs, ok: true });
        this.apply(batch, result, forward.positionsPerRow);
      },
      (error: Error) => {
        this.emit('pass', { ...report, computeMs: 0, ok: false });
        for (const { job } of batch) this.fail(job, error);
      },
    );
  }

  private apply(batch: Sequence[], result: ForwardResult, positionsPerRow: number): void {
    batch.forEach(({ job, sample, sampler, pass }, row) => {
      if (job.settled) return;
      const count = pass.positions.length;
      const tokens = rowTokens(result.tokens, row, positionsPerRow, count);
      const logprobs = result.logprobs.subarray(row * positionsPerRow, row * positionsPerRow + count);
      const event = sampler.applyPass(tokens, logprobs);
      if (event !== undefined) job.spec.onStep?.(sample, event);
      this.enqueue(job, sample, sampler);
    });
  }

  private finishSample(job: Job): void {
    job.remaining -= 1;
    if (job.remaining > 0 || job.settled) return;
    this.settle(job);
    const stats = {
      steps: (job.samplers[0] as SequenceSampler).totalSteps,
      forwardPasses: job.samplers.reduce((sum, sampler) => sum + sampler.forwardPasses, 0),
      wallMs: performance.now() - job.submittedAt,
      queuedMs: (job.firstPassAt ?? job.submittedAt) - job.submittedAt,
    };
    job.resolve({
      samples: job.samplers.map((sampler) => ({ tokens: sampler.canvas, logprobs: sampler.logprobs, forwardPasses: sampler.forwardPasses })),
      stats,
    });
  }

  /** Fails a request and drops its waiting sequences; sequences in a running pass are ignored when it returns. */
  private fail(job: Job, error: Error): void {
    if (job.settled) return;
    this.settle(job);
    for (let i = this.ready.length - 1; i >= 0; i--) if ((this.ready[i] as Sequence).job === job) this.ready.splice(i, 1);
    job.reject(error);
    this.pump();
  }

  private settle(job: Job): void {
    job.settled = true;
    job.detachAbort();
    this.jobs.delete(job);
    this.admitted -= job.samplers.length;
    if (this.jobs.size === 0) for (const release of this.idleWaiters.splice(0)) release();
  }
}

function cancelledError(): MdlmError {
  return new MdlmError(ErrorCodes.cancelled, 'the request was cancelled');
}
