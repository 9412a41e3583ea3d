import { EventEmitter } from 'node:events';
import type { ForwardRuntime, PassOutput } from '../runtime/index.js';
import type { JobHandle, PassReport, ScheduledPass, Scheduler, Sequence } from '../scheduler/index.js';

/**
 * The one loop that owns the order of things, as vLLM v1's EngineCore.step does: the
 * scheduler decides the next pass, the runtime executes it, and the scheduler applies its
 * results, which may make new rows ready for the next turn. It turns whenever work arrives,
 * a pass returns, a worker becomes ready or a batch wait ends; each turn dispatches passes
 * while a worker is free.
 */
export class EngineCore extends EventEmitter<{ pass: [PassReport] }> {
  private waitTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly runtime: ForwardRuntime,
  ) {
    super();
    runtime.on('ready', () => this.step());
  }

  /** Admits a job (or throws: overloaded, shutting down, cancelled) and starts its first rows. */
  submit(sequences: Sequence[], signal?: AbortSignal): JobHandle {
    const job = this.scheduler.admit(sequences, signal);
    this.step();
    return job;
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
