/**
 * The server's own view of a level, from GET /metrics (the Prometheus text format) read
 * before and after it, and sampled while it runs for the queue depth. Metrics are found by
 * the names the README documents; one the server does not export leaves its figures null.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerView } from './result.js';
import type { BenchTarget } from './target.js';

export const METRICS = {
  passes: 'mdlm_forward_passes_total',
  rowsSum: 'mdlm_batch_rows_sum',
  rowsCount: 'mdlm_batch_rows_count',
  tokens: 'mdlm_generated_tokens_total',
  passSecondsSum: 'mdlm_forward_pass_seconds_sum',
  passSecondsCount: 'mdlm_forward_pass_seconds_count',
  queueDepth: 'mdlm_queue_depth',
} as const;

/** How often the queue depth is sampled while a level runs. */
const QUEUE_SAMPLE_MS = 500;

/** Each metric's value, summed over its label sets. */
export type MetricValues = Map<string, number>;

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})?\s+(\S+)/;

export function parseMetrics(text: string): MetricValues {
  const values: MetricValues = new Map();
  for (const line of text.split('\n')) {
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) values.set(match[1] as string, (values.get(match[1] as string) ?? 0) + value);
  }
  return values;
}

/** Metrics, or why they could not be read. */
export type MetricsReading = { values: MetricValues } | { problem: string };

export async function readMetrics(target: BenchTarget): Promise<MetricsReading> {
  const read = await target.metricsText();
  return 'text' in read ? { values: parseMetrics(read.text) } : read;
}

/** Samples the queue depth until stopped; resolves to the samples read. */
export function sampleQueueDepth(target: BenchTarget): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      const reading = await readMetrics(target);
      const depth = 'values' in reading ? reading.values.get(METRICS.queueDepth) : undefined;
      if (depth !== undefined) samples.push(depth);
      await delay(QUEUE_SAMPLE_MS, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      return samples;
    },
  };
}

/** The level's figures from the readings around it; `note` says what is missing and why. */
export function serverView(
  before: MetricsReading,
  after: MetricsReading,
  queueDepths: readonly number[],
  elapsedS: number,
): { server: ServerView | null; note: string | null } {
  if (!('values' in before)) return { server: null, note: before.problem };
  if (!('values' in after)) return { server: null, note: after.problem };
  // A labelled counter has no sample until its first increment: absent before, it was 0.
  const delta = (name: string) => {
    const to = after.values.get(name);
    return to === undefined ? null : to - (before.values.get(name) ?? 0);
  };
  const ratio = (numerator: number | null, denominator: number | null) =>
    numerator === null || denominator === null || denominator === 0 ? null : numerator / denominator;
  const passes = delta(METRICS.passes);
  const rows = delta(METRICS.rowsSum);
  const batches = delta(METRICS.rowsCount);
  const tokens = delta(METRICS.tokens);
  const passSeconds = delta(METRICS.passSecondsSum);
  const server: ServerView = {
    forwardPassesPerS: ratio(passes, elapsedS),
    meanRowsPerPass: ratio(rows, batches),
    tokensPerPass: ratio(tokens, batches),
    tokensPerRowPass: ratio(tokens, rows),
    meanPassMs: ratio(passSeconds === null ? null : passSeconds * 1000, delta(METRICS.passSecondsCount)),
    busy: ratio(passSeconds, elapsedS),
    queueDepth: queueDepths.length === 0 ? null : { mean: queueDepths.reduce((a, b) => a + b, 0) / queueDepths.length, max: Math.max(...queueDepths) },
  };
  const missing = Object.values(METRICS).filter((name) => !after.values.has(name));
  return { server, note: missing.length === 0 ? null : `/metrics lacks ${missing.join(', ')}` };
}
