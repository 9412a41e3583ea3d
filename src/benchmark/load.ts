/**
 * What each driver is given for one mix entry in one window (its share of the level, its
 * seeds, its tally), and the load loop of the drivers the bench times itself: a closed loop
 * of `connections` workers, or requests sent on a fixed schedule with at most that many in
 * flight. autocannon runs the other entries the same way.
 */
import type { Endpoint, MixEntry } from './mix.js';
import type { Percentiles } from './result.js';
import { type AnswerKind, failureOf, outcomeOf, parseJson } from './responses.js';
import type { SeedSource } from './seeds.js';
import { type EntryTally, TRANSPORT_CODES } from './tally.js';
import type { BenchTarget } from './target.js';

export interface EntryLoad {
  target: BenchTarget;
  entry: MixEntry;
  /** Requests in flight at most; never more than `requests` (autocannon refuses that). */
  connections: number;
  /** Requests/s for an open loop; undefined for a closed one. */
  rate: number | undefined;
  /** A fixed number of requests, or undefined to run for `durationS`. */
  requests: number | undefined;
  durationS: number;
  timeoutS: number;
  nextSeed: SeedSource;
  tally: EntryTally;
  /** Aborted when the window must end early (the server went away). */
  stop: AbortSignal;
  /** Called on a failure that means nothing listens at the server's address any more. */
  serverGone: (error: unknown) => void;
}

export interface EntryRun {
  elapsedS: number;
  /** Latencies when the driver measured them in its own way (autocannon's histogram); else the tally's. */
  latency?: Percentiles | null;
}

export function answerKind(endpoint: Endpoint): AnswerKind {
  if (endpoint === '/v1/completions') return 'completion';
  return endpoint === '/v1/score' ? 'score' : 'generation';
}

/** Counts a whole HTTP answer: a success with what it reports, or a failure with its status and code. */
export function recordAnswer(tally: EntryTally, kind: AnswerKind, status: number, body: string): void {
  if (status < 200 || status >= 300) {
    const failure = failureOf(status, body);
    tally.failure(failure.status, failure.code, failure.message);
    return;
  }
  const outcome = outcomeOf(kind, parseJson(body));
  if (outcome === undefined) tally.failure(status, TRANSPORT_CODES.badAnswer, `a ${status} answer that is not the shape ${kind} answers have`);
  else tally.success(outcome);
}

/**
 * Runs `send` from `load.connections` workers until the window ends: after `durationS`, after
 * `requests` sends, or when `load.stop` aborts. `scheduledAt` is when the request was due
 * (latencies count from it, so a late send under a rate is not hidden); `signal` aborts
 * requests still in flight when the window ends, and those are not counted.
 */
export async function runLoadLoop(load: EntryLoad, send: (worker: number, scheduledAt: number, signal: AbortSignal) => Promise<void>): Promise<EntryRun> {
  const window = new AbortController();
  const started = performance.now();
  let ended: number | undefined;
  const end = () => {
    ended ??= performance.now();
    load.tally.close();
    window.abort();
  };
  const timer = load.requests === undefined ? setTimeout(end, load.durationS * 1000) : undefined;
  load.stop.addEventListener('abort', end, { once: true });
  let issued = 0;
  const worker = async (index: number) => {
    while (!window.signal.aborted && (load.requests === undefined || issued < load.requests)) {
      const scheduledAt = load.rate === undefined ? performance.now() : started + (issued * 1000) / load.rate;
      issued++;
      if (!(await waitUntil(scheduledAt, window.signal))) break;
      await send(index, scheduledAt, window.signal);
    }
  };
  await Promise.all(Array.from({ length: load.connections }, (_, index) => worker(index)));
  clearTimeout(timer);
  load.stop.removeEventListener('abort', end);
  end();
  return { elapsedS: ((ended ?? performance.now()) - started) / 1000 };
}

/** Resolves true at `time` (a performance.now() value), or false if `signal` aborts first. */
function waitUntil(time: number, signal: AbortSignal): Promise<boolean> {
  const delay = time - performance.now();
  if (signal.aborted) return Promise.resolve(false);
  if (delay <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, delay);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The code a request that got no answer is counted under. */
export function transportCode(error: unknown): string {
  return (error as Error | undefined)?.name === 'TimeoutError' ? TRANSPORT_CODES.timeout : TRANSPORT_CODES.connection;
}
