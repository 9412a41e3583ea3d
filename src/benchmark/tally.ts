/**
 * The count of one mix entry over one measured window: successes with their tokens and
 * diffusion statistics, failures by HTTP status and error code, and (for the requests the
 * bench times itself) latencies. Anything reported after the window closed is ignored.
 */
import type { RequestOutcome } from './responses.js';
import type { EntryErrors, EntryResult, Percentiles } from './result.js';

/** Failures the server's envelope does not name: no answer in time, no connection, a cut stream, an answer of the wrong shape. */
export const TRANSPORT_CODES = { timeout: 'timeout', connection: 'connection_error', truncated: 'stream_truncated', badAnswer: 'unexpected_answer' } as const;

interface Mean {
  sum: number;
  count: number;
}

export interface Timing {
  latencyMs: number;
  firstEventMs?: number;
}

export class EntryTally {
  private successes = 0;
  private generated = 0;
  private readonly steps = mean();
  private readonly forwardPasses = mean();
  private readonly queuedMs = mean();
  /** Tokens and passes of the requests that report both (generations): tokens per forward pass. */
  private generationTokens = 0;
  private generationPasses = 0;
  private readonly latencies: number[] = [];
  private readonly firstEvents: number[] = [];
  private readonly errors = new Map<string, EntryErrors[number]>();
  private open = true;

  success(outcome: RequestOutcome, timing?: Timing): void {
    if (!this.open) return;
    this.successes++;
    this.generated += outcome.tokens;
    add(this.steps, outcome.steps);
    add(this.forwardPasses, outcome.forwardPasses);
    add(this.queuedMs, outcome.queuedMs);
    if (outcome.steps !== undefined && outcome.forwardPasses !== undefined) {
      this.generationTokens += outcome.tokens;
      this.generationPasses += outcome.forwardPasses;
    }
    if (timing === undefined) return;
    this.latencies.push(timing.latencyMs);
    if (timing.firstEventMs !== undefined) this.firstEvents.push(timing.firstEventMs);
  }

  /** A failed request: `status` null when no HTTP answer came, `code` the envelope's (or a transport code). */
  failure(status: number | null, code: string, message: string): void {
    if (!this.open) return;
    const key = `${status} ${code}`;
    const entry = this.errors.get(key);
    if (entry === undefined) this.errors.set(key, { status, code, count: 1, message });
    else entry.count++;
  }

  /** Ends the measured window: later reports are not counted. */
  close(): void {
    this.open = false;
  }

  get completed(): number {
    return this.successes;
  }

  /** Tokens the successful requests generated. */
  get tokens(): number {
    return this.generated;
  }

  get failed(): number {
    return [...this.errors.values()].reduce((sum, error) => sum + error.count, 0);
  }

  errorCounts(): EntryErrors {
    return [...this.errors.values()].sort((a, b) => b.count - a.count);
  }

  /** The diffusion figures of the requests whose answers report them; null where none did. */
  diffusion(): EntryResult['diffusion'] {
    return {
      stepsPerRequest: meanOf(this.steps),
      forwardPassesPerRequest: meanOf(this.forwardPasses),
      tokensPerForwardPass: this.generationPasses === 0 ? null : this.generationTokens / this.generationPasses,
      queuedMs: meanOf(this.queuedMs),
    };
  }

  latency(): Percentiles | null {
    return percentiles(this.latencies);
  }

  firstEvent(): Percentiles | null {
    return percentiles(this.firstEvents);
  }
}

function mean(): Mean {
  return { sum: 0, count: 0 };
}

function add(target: Mean, value: number | undefined): void {
  if (value === undefined) return;
  target.sum += value;
  target.count++;
}

function meanOf(value: Mean): number | null {
  return value.count === 0 ? null : value.sum / value.count;
}

/** Nearest-rank percentiles, in ms to 0.1; null without samples. */
export function percentiles(values: readonly number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => Math.round((sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number) * 10) / 10;
  return { p50: at(50), p90: at(90), p99: at(99) };
}
