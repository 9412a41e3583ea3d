import { ErrorCodes, MdlmError } from '../errors.js';
import type { PassOutput, PassRow } from '../runtime/index.js';
import type { JobHandle, JobStats, SchedulerOptions, Sequence } from './types.js';

interface Job {
  sequences: Sequence[];
  /** The sequence this job offers a row from next: its sequences take turns. */
  turn: number;
  forwardPasses: number;
  admittedAt: number;
  firstPassAt: number | undefined;
  settled: boolean;
  detachAbort: () => void;
  resolve: (stats: JobStats) => void;
  reject: (error: Error) => void;
}

/** A pass the scheduler chose: its rows, and whose each one is. */
export interface ScheduledPass {
  rows: PassRow[];
  owners: { job: Job; sequence: Sequence }[];
}

/** What schedule() decided: a pass to run now, a wait for a fuller batch, or nothing to do. */
export type Decision = { pass: ScheduledPass } | { waitMs: number } | undefined;

/**
 * Continuous batching, as decisions only: admission, which rows form the next pass, and the
 * bookkeeping when its results come back. It never runs anything; the engine loop does.
 *
 * Fairness: jobs (requests) take turns, each offering one row per turn from its sequences in
 * rotation, until the pass is full; the job served first moves on with every pass. So a
 * scoring job with thousands of independent rows shares each pass with the samples of a
 * generation request instead of queueing ahead of them, and a request with many samples
 * cannot starve one with a few. A pass holds rows of one window length only.
 */
export class Scheduler {
  private readonly jobs: Job[] = [];
  private cursor = 0;
  private admitted = 0;
  private accepting = true;
  private waitDeadline: number | undefined;
  /** Callers of idle(), released when the last job settles. */
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SchedulerOptions) {}

  /** Sequences admitted and not yet finished. */
  get activeSequences(): number {
    return this.admitted;
  }

  /** Sequences admitted at most at once (--max-queue). */
  get capacity(): number {
    return this.options.maxQueue;
  }

  /** Jobs (requests) admitted whose rows have not been in a pass yet. */
  get waitingJobs(): number {
    return this.jobs.filter((job) => job.firstPassAt === undefined).length;
  }

  /** Jobs (requests) that have had a pass and are not finished. */
  get runningJobs(): number {
    return this.jobs.length - this.waitingJobs;
  }

  /** Sequences with a row ready for a pass right now. */
  get queueDepth(): number {
    return this.jobs.reduce((sum, job) => sum + job.sequences.filter((sequence) => sequence.peekRow() !== undefined).length, 0);
  }

  /** Admits a job or throws (overloaded, shutting down, already cancelled); its rows join the next pass. */
  admit(sequences: Sequence[], signal?: AbortSignal): JobHandle {
    if (!this.accepting) throw new MdlmError(ErrorCodes.shuttingDown, 'the server is shutting down');
    // Larger than the whole queue: retrying can never help, so this is the request's fault, not load.
    if (sequences.length > this.options.maxQueue) {
      throw new MdlmError(ErrorCodes.invalidArgument, `this request needs ${sequences.length} sequences at once; the queue holds at most ${this.options.maxQueue} (--max-queue)`);
    }
    if (this.admitted + sequences.length > this.options.maxQueue) {
      throw new MdlmError(ErrorCodes.overloaded, `the queue is full (${this.admitted} of ${this.options.maxQueue} sequences in progress); retry later`);
    }
    if (signal?.aborted) throw cancelledError();
    let job!: Job;
    const done = new Promise<JobStats>((resolve, reject) => {
      job = { sequences, turn: 0, forwardPasses: 0, admittedAt: performance.now(), firstPassAt: undefined, settled: false, detachAbort: () => undefined, resolve, reject };
    });
    this.jobs.push(job);
    this.admitted += sequences.length;
    if (signal !== undefined) {
      const onAbort = () => this.fail(job, cancelledError());
      signal.addEventListener('abort', onAbort, { once: true });
      job.detachAbort = () => signal.removeEventListener('abort', onAbort);
    }
    this.settleIfFinished(job);
    return { done };
  }

  /** The next pass to run on a free worker, a wait for more rows, or undefined when no row is ready. */
  schedule(): Decision {
    const ready = this.rotation().filter((job) => job.sequences.some((sequence) => sequence.peekRow() !== undefined));
    if (ready.length === 0) return undefined;
    const waitMs = this.batchWait(ready);
    if (waitMs > 0) return { waitMs };
    const first = ready[0] as Job;
    const length = (first.sequences.find((sequence) => sequence.peekRow() !== undefined) as Sequence).windowLength;
    const pass = this.fill(ready, length);
    this.cursor = (this.jobs.indexOf(first) + 1) % this.jobs.length;
    const now = performance.now();
    for (const { job } of pass.owners) job.firstPassAt ??= now;
    return { pass };
  }

  /** Hands each row's result to its sequence and settles the jobs that are complete. */
  update(pass: ScheduledPass, output: PassOutput): void {
    pass.owners.forEach(({ job, sequence }, row) => {
      if (job.settled) return;
      job.forwardPasses += 1;
      sequence.apply(pass.rows[row] as PassRow, output.results[row] as PassOutput['results'][number]);
    });
    for (const job of new Set(pass.owners.map((owner) => owner.job))) this.settleIfFinished(job);
  }

  /** A pass that failed fails every job with a row in it. */
  failPass(pass: ScheduledPass, error: Error): void {
    for (const job of new Set(pass.owners.map((owner) => owner.job))) this.fail(job, error);
  }

  /** Stops admitting work; running jobs carry on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Resolves when no job is in progress. */
  idle(): Promise<void> {
    if (this.jobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  cancelAll(reason: MdlmError): void {
    for (const job of [...this.jobs]) this.fail(job, reason);
  }

  /** The jobs in the order they are served this time: from the cursor on, wrapping round. */
  private rotation(): Job[] {
    const start = this.cursor % Math.max(1, this.jobs.length);
    return [...this.jobs.slice(start), ...this.jobs.slice(0, start)];
  }

  /** Jobs take turns offering one row each, until the pass is full or nobody has a fitting row left. */
  private fill(ready: Job[], length: number): ScheduledPass {
    const pass: ScheduledPass = { rows: [], owners: [] };
    let entries = 0;
    let offering = ready;
    while (offering.length > 0 && pass.rows.length < this.options.maxBatch) {
      const next: Job[] = [];
      for (const job of offering) {
        if (pass.rows.length >= this.options.maxBatch) break;
        const sequence = this.nextSequence(job, length, pass.rows.length === 0 ? Infinity : this.options.maxBatchEntries - entries);
        if (sequence === undefined) continue;
        const row = sequence.takeRow();
        entries += rowEntries(row);
        pass.rows.push(row);
        pass.owners.push({ job, sequence });
        next.push(job);
      }
      offering = next;
    }
    return pass;
  }

  /** The job's next sequence, in rotation, with a row of this length that fits the entries left. */
  private nextSequence(job: Job, length: number, entriesLeft: number): Sequence | undefined {
    const count = job.sequences.length;
    for (let i = 0; i < count; i++) {
      const index = (job.turn + i) % count;
      const sequence = job.sequences[index] as Sequence;
      const row = sequence.windowLength === length ? sequence.peekRow() : undefined;
      if (row !== undefined && rowEntries(row) <= entriesLeft) {
        job.turn = (index + 1) % count;
        return sequence;
      }
    }
    return undefined;
  }

  /**
   * With batchWaitMs set, a free worker facing a partial batch waits that long for more rows
   * before running it: a little latency traded for fuller passes.
   */
  private batchWait(ready: Job[]): number {
    const rows = ready.reduce((sum, job) => sum + job.sequences.filter((sequence) => sequence.peekRow() !== undefined).length, 0);
    if (this.options.batchWaitMs <= 0 || rows >= this.options.maxBatch) {
      this.waitDeadline = undefined;
      return 0;
    }
    const now = performance.now();
    this.waitDeadline ??= now + this.options.batchWaitMs;
    if (now >= this.waitDeadline) {
      this.waitDeadline = undefined;
      return 0;
    }
    // (now + wait) − now can exceed wait in the last bit.
    return Math.min(this.waitDeadline - now, this.options.batchWaitMs);
  }

  private settleIfFinished(job: Job): void {
    if (job.settled || !job.sequences.every((sequence) => sequence.finished)) return;
    this.settle(job);
    const now = performance.now();
    job.resolve({ forwardPasses: job.forwardPasses, wallMs: now - job.admittedAt, queuedMs: (job.firstPassAt ?? now) - job.admittedAt });
  }

  /** Fails a job; rows of it still in a running pass are ignored when the pass returns. */
  private fail(job: Job, error: Error): void {
    if (job.settled) return;
    this.settle(job);
    job.reject(error);
  }

  private settle(job: Job): void {
    job.settled = true;
    job.detachAbort();
    const index = this.jobs.indexOf(job);
    this.jobs.splice(index, 1);
    if (index < this.cursor) this.cursor -= 1;
    this.admitted -= job.sequences.length;
    if (this.jobs.length === 0) for (const release of this.idleWaiters.splice(0)) release();
  }
}

function rowEntries(row: PassRow): number {
  return (row.draws?.positions.length ?? 0) + (row.scores?.positions.length ?? 0);
}

function cancelledError(): MdlmError {
  return new MdlmError(ErrorCodes.cancelled, 'the request was cancelled');
}
