import { EventEmitter } from 'node:events';
import { ErrorCodes, MdlmError } from '../errors.js';
import type { PassOutput, PassRow } from '../runtime/index.js';
import type { JobHandle, PassReport, ScheduledPass, Scheduler, Sequence } from '../scheduler/index.js';

/** What the loop needs of the runtime (ForwardRuntime): free workers to run passes on, and word when workers come and go. */
export interface EngineRuntime {
  readonly idleWorkers: number;
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  execute(rows: readonly PassRow[]): Promise<PassOutput>;
  on(event: 'ready', listener: (index: number) => void): unknown;
  on(event: 'failed', listener: (index: number, reason: string, retryInMs: number) => void): unknown;
}

/**
 * The one loop that owns the order of things, as vLLM v1's EngineCore.step does: the
 * scheduler decides the next pass, the runtime executes it, and the scheduler applies its
 * results, which may make new rows ready for the next turn. It turns whenever work arrives,
 * a pass returns, a worker becomes ready or a batch wait ends; each turn dispatches passes
 * while a worker is free.
 *
 * When no worker can run (none is ready and none is starting, because restarts failed), work
 * would wait forever: the loop fails what is queued and refuses new work with
 * worker_unavailable until a worker is ready again.
 */
export class EngineCore extends EventEmitter<{ pass: [PassReport] }> {
  private waitTimer: NodeJS.Timeout | undefined;
  /** Set while no worker can run: why, and when the runtime tries again. */
  private unavailable: MdlmError | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly runtime: EngineRuntime,
  ) {
    super();
    runtime.on('ready', () => {
      this.unavailable = undefined;
      this.step();
    });
    runtime.on('failed', (index, reason, retryInMs) => this.workerFailed(index, reason, retryInMs));
  }

  /** Why no work can run now, or undefined while some worker is ready or starting. */
  get unavailableReason(): string | undefined {
    return this.unavailable?.message;
  }

  /** Admits a job (or throws: overloaded, shutting down, cancelled, no worker) and starts its first rows. */
  submit(sequences: Sequence[], signal?: AbortSignal): JobHandle {
    if (this.unavailable !== undefined) throw this.unavailable;
    const job = this.scheduler.admit(sequences, signal);
    this.step();
    return job;
  }

  private workerFailed(index: number, reason: string, retryInMs: number): void {
    if (this.runtime.readyWorkers > 0 || this.runtime.startingWorkers > 0) return;
    this.unavailable = new MdlmError(
      ErrorCodes.workerUnavailable,
      `no inference worker can run: worker ${index} could not be restarted (${reason}); the next attempt is in ${(retryInMs / 1000).toFixed(1)} s`,
    );
    this.scheduler.cancelAll(this.unavailable);
  }

  private step(): void {
    clearTimeout(this.waitTimer);
    while (this.runtime.idleWorkers > 0) {
      const decision = this.scheduler.schedule();
      if (decision === undefined) return;
      if ('waitMs' in decision) {
        this.waitTimer = setTimeout(() => this.step(), Math.ceil(decision.waitMs));
        return;
      }
      void this.execute(decision.pass);
    }
  }

  private async execute(pass: ScheduledPass): Promise<void> {
    const shape = { rows: pass.rows.length, length: pass.rows[0]?.tokens.length ?? 0, ...entryCounts(pass) };
    let output: PassOutput;
    try {
      output = await this.runtime.execute(pass.rows);
    } catch (error) {
      this.emit('pass', { ...shape, computeMs: 0, ok: false });
      this.scheduler.failPass(pass, error as Error);
      this.step();
      return;
    }
    this.emit('pass', { ...shape, computeMs: output.computeMs, ok: true });
    try {
      this.scheduler.update(pass, output);
    } catch (error) {
      // A consumer's step hook threw: its jobs fail, the loop carries on.
      this.scheduler.failPass(pass, error as Error);
    }
    this.step();
  }
}

function entryCounts(pass: ScheduledPass): { draws: number; scores: number } {
  let draws = 0;
  let scores = 0;
  for (const row of pass.rows) {
    draws += row.draws?.positions.length ?? 0;
    scores += row.scores?.positions.length ?? 0;
  }
  return { draws, scores };
}
