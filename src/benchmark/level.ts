/**
 * One level of a sweep: an unmeasured warm-up, then the measured window with /metrics read
 * around it. Every mix entry runs at once with its share of the level (connections, rate or
 * request count, split by weight) and its own driver.
 */
import type { EntryLoad, EntryRun } from './load.js';
import { type MixEntry, splitByWeight } from './mix.js';
import { runPlainEntry } from './plain-driver.js';
import type { EntryResult, LevelResult } from './result.js';
import { type Phase, seedSources } from './seeds.js';
import { readMetrics, sampleQueueDepth, serverView } from './server-view.js';
import { runSseEntry } from './sse-driver.js';
import { EntryTally } from './tally.js';
import type { BenchTarget } from './target.js';
import { runWebSocketEntry } from './ws-driver.js';

export interface LevelSettings {
  target: BenchTarget;
  mix: MixEntry[];
  /** Seconds each level measures, unless `requests` is set. */
  durationS: number;
  /** Requests each level measures, split over the entries by weight. */
  requests: number | undefined;
  warmupS: number;
  seed: number;
  timeoutS: number;
  /** Connections a rate level may keep in flight, split over the entries by weight. */
  rateConnections: number;
}

/** A concurrency level (closed loop) or a rate level (requests/s). */
export type LevelSpec = { concurrency: number; rate: null } | { concurrency: null; rate: number };

/** The level measured, or the error that means the server went away (and when). */
export type LevelOutcome = { level: LevelResult } | { gone: unknown; phase: Phase; afterS: number };

export async function runLevel(settings: LevelSettings, spec: LevelSpec): Promise<LevelOutcome> {
  if (settings.warmupS > 0) {
    const warmup = await runWindow(settings, spec, 'warmup');
    if (warmup.gone !== undefined) return { gone: warmup.gone, phase: 'warmup', afterS: warmup.elapsedS };
  }
  const before = await readMetrics(settings.target);
  const queue = sampleQueueDepth(settings.target);
  const window = await runWindow(settings, spec, 'measured');
  const queueDepths = await queue.stop();
  if (window.gone !== undefined) return { gone: window.gone, phase: 'measured', afterS: window.elapsedS };
  const after = await readMetrics(settings.target);
  const { server, note } = serverView(before, after, queueDepths, window.elapsedS);
  const entries = window.loads.map((load, index) => entryResult(load, window.runs[index] as EntryRun));
  const completed = sum(entries.map((entry) => entry.completed));
  return {
    level: {
      concurrency: spec.concurrency,
      rate: spec.rate,
      inFlight: sum(entries.map((entry) => entry.connections)),
      elapsedS: window.elapsedS,
      completed,
      failed: sum(entries.map((entry) => entry.failed)),
      requestsPerS: perSecond(completed, window.elapsedS),
      tokensPerS: perSecond(sum(entries.map((entry) => entry.tokens)), window.elapsedS),
      entries,
      server,
      serverNote: note,
    },
  };
}

interface Window {
  loads: EntryLoad[];
  runs: EntryRun[];
  elapsedS: number;
  gone: unknown;
}

async function runWindow(settings: LevelSettings, spec: LevelSpec, phase: Phase): Promise<Window> {
  const { mix } = settings;
  const weights = mix.map((entry) => entry.weight);
  const connections = splitByWeight(spec.concurrency ?? settings.rateConnections, weights);
  const rates = spec.rate === null ? undefined : splitByWeight(spec.rate, weights);
  const measuredRequests = phase === 'measured' ? settings.requests : undefined;
  const requests = measuredRequests === undefined ? undefined : splitByWeight(measuredRequests, weights);
  const seeds = seedSources(settings.seed, mix.length, phase);
  const stop = new AbortController();
  let gone: unknown;
  const loads = mix.map((entry, index): EntryLoad => ({
    target: settings.target,
    entry,
    connections: requests === undefined ? (connections[index] as number) : Math.min(connections[index] as number, requests[index] as number),
    rate: rates?.[index],
    requests: requests?.[index],
    durationS: phase === 'measured' ? settings.durationS : settings.warmupS,
    timeoutS: settings.timeoutS,
    nextSeed: seeds[index] as () => number,
    tally: new EntryTally(),
    stop: stop.signal,
    serverGone: (error) => {
      gone ??= error;
      stop.abort();
    },
  }));
  const runs = await Promise.all(loads.map(drive));
  return { loads, runs, elapsedS: Math.max(...runs.map((run) => run.elapsedS)), gone };
}

function drive(load: EntryLoad): Promise<EntryRun> {
  if (load.entry.endpoint === '/v1/stream') return runWebSocketEntry(load);
  return load.entry.stream ? runSseEntry(load) : runPlainEntry(load);
}

function entryResult(load: EntryLoad, run: EntryRun): EntryResult {
  const { entry, tally } = load;
  return {
    name: entry.name,
    endpoint: entry.endpoint,
    stream: entry.stream,
    connections: load.connections,
    rate: load.rate ?? null,
    elapsedS: run.elapsedS,
    completed: tally.completed,
    failed: tally.failed,
    requestsPerS: perSecond(tally.completed, run.elapsedS),
    tokens: tally.tokens,
    tokensPerS: perSecond(tally.tokens, run.elapsedS),
    latencyMs: run.latency === undefined ? tally.latency() : run.latency,
    firstEventMs: entry.stream ? tally.firstEvent() : null,
    diffusion: tally.diffusion(),
    errors: tally.errorCounts(),
  };
}

/** A window cut short before it measured anything has no rate: 0, not NaN. */
function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
