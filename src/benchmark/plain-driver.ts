/**
 * Entries answered with one JSON body (/v1/generate, /v1/completions, /v1/score) are loaded
 * by autocannon: its connections, duration or amount, rate (with its correction for
 * coordinated omission) and latency histogram. Each request is built as it is sent, with the
 * next seed of the entry's stream, and each answer is read for its tokens or its error code.
 */
import type autocannon from 'autocannon';
import { type EntryLoad, type EntryRun, answerKind, recordAnswer } from './load.js';
import { requestBody } from './mix.js';
import { TRANSPORT_CODES } from './tally.js';
import { describeFailure, isServerGone } from './target.js';

/** How often autocannon checks whether the window is over: it stops at most this late. */
const CHECK_INTERVAL_MS = 100;
/** What autocannon's own timeout error says (it has no code). */
const AUTOCANNON_TIMEOUT = 'request timed out';

export async function runPlainEntry(load: EntryLoad): Promise<EntryRun> {
  // Loaded when a bench runs: it takes a fifth of a second, which every other command would pay at start-up.
  const { default: run } = await import('autocannon');
  const { entry, tally } = load;
  const kind = answerKind(entry.endpoint);
  const window = load.requests === undefined ? { duration: load.durationS } : { amount: load.requests };
  return new Promise((resolve, reject) => {
    const instance = run(
      {
        url: load.target.endpoint(entry.endpoint),
        method: 'POST',
        headers: load.target.headers,
        connections: load.connections,
        ...window,
        ...(load.rate === undefined ? {} : { overallRate: load.rate }),
        timeout: load.timeoutS,
        sampleInt: CHECK_INTERVAL_MS,
        // Latencies of successes only, as the bench's own drivers measure them: refusals are fast and would hide the rest.
        excludeErrorStats: true,
        requests: [
          {
            setupRequest: (request) => ({ ...request, body: JSON.stringify(requestBody(entry, load.nextSeed())) }),
            onResponse: (status, body) => recordAnswer(tally, kind, status, body),
          },
        ],
      },
      (error: unknown, result: autocannon.Result) => {
        tally.close();
        load.stop.removeEventListener('abort', stop);
        if (error !== null && error !== undefined) reject(error);
        else
          resolve({
            elapsedS: result.duration,
            latency: tally.completed === 0 ? null : { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99 },
          });
      },
    );
    const stop = () => instance.stop();
    load.stop.addEventListener('abort', stop, { once: true });
    instance.on('reqError', (error: Error) => {
      if (isServerGone(error)) load.serverGone(error);
      else tally.failure(null, error.message === AUTOCANNON_TIMEOUT ? TRANSPORT_CODES.timeout : TRANSPORT_CODES.connection, describeFailure(error));
    });
  });
}
