/**
 * `mdlm bench http` as a whole: what the server serves, the mix sized from it, then the levels
 * in order. A server that goes away ends the sweep with the levels measured so far; so does a
 * level in which no request succeeded (the ones after it would only repeat the failure).
 */
import { ErrorCodes, MdlmError } from '../errors.js';
import { type LevelSettings, type LevelSpec, runLevel } from './level.js';
import { describeMachine } from './machine.js';
import type { MixEntry } from './mix.js';
import { type BenchHttpResult, BenchHttpResultSchema, type LevelResult, levelLabel } from './result.js';
import { BenchTarget, type ServedModel } from './target.js';

export interface HttpBenchOptions extends Omit<LevelSettings, 'target' | 'mix'> {
  url: string;
  apiKey: string | undefined;
  /** The mix, built once the served model is known (its defaults depend on it). */
  mix: (model: ServedModel) => MixEntry[];
  sweep: 'concurrency' | 'rate';
  levels: readonly number[];
  /** Told when each level starts. */
  onLevel?: (label: string) => void;
}

export interface HttpBenchOutcome {
  result: BenchHttpResult;
  /** Why the sweep ended early (the server went away), if it did. */
  stopped: MdlmError | undefined;
}

export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchOutcome> {
  const target = new BenchTarget(options.url, options.apiKey);
  const model = await target.model();
  const mix = options.mix(model);
  const settings: LevelSettings = { ...options, target, mix };
  const levels: LevelResult[] = [];
  let stopped: MdlmError | undefined;
  for (const value of options.levels) {
    const spec: LevelSpec = options.sweep === 'concurrency' ? { concurrency: value, rate: null } : { concurrency: null, rate: value };
    const label = levelLabel(spec);
    options.onLevel?.(label);
    const outcome = await runLevel(settings, spec);
    if ('gone' in outcome) {
      stopped = target.wentAway(`${label} (${outcome.phase === 'warmup' ? 'warm-up' : 'measured window'}, after ${outcome.afterS.toFixed(1)} s)`, outcome.gone);
      break;
    }
    levels.push(outcome.level);
    if (outcome.level.completed === 0) break;
  }
  const result = BenchHttpResultSchema.parse({
    url: options.url,
    model: { id: model.id, modelLength: model.modelLength, parameterization: model.parameterization, provider: model.provider },
    loadGenerator: describeMachine(),
    sweep: options.sweep,
    durationS: options.requests === undefined ? options.durationS : null,
    requestsPerLevel: options.requests ?? null,
    warmupS: options.warmupS,
    seed: options.seed,
    mix: mix.map(({ name, endpoint, stream, weight, body }) => ({ name, endpoint, stream, weight, body })),
    levels,
  });
  return { result, stopped };
}

/** The failure to report when more requests failed than allowed, naming the worst level and its errors. */
export function failedRequests(result: BenchHttpResult, maxErrorRate: number): MdlmError | undefined {
  const rate = (level: LevelResult) => level.failed / Math.max(1, level.completed + level.failed);
  const worst = [...result.levels].sort((a, b) => rate(b) - rate(a))[0];
  if (worst === undefined || worst.failed === 0 || rate(worst) <= maxErrorRate) return undefined;
  const errors = worst.entries.flatMap((entry) =>
    entry.errors.map((error) => `${entry.name}: ${error.status ?? '–'} ${error.code} ×${error.count} (${error.message})`),
  );
  const allowed = `${Number((maxErrorRate * 100).toFixed(2))}%`;
  const failed = `${worst.failed} of ${worst.completed + worst.failed} requests failed at ${levelLabel(worst)}`;
  return new MdlmError(ErrorCodes.benchRequestsFailed, `${failed} (allowed: ${allowed}, --max-error-rate): ${errors.join('; ')}`);
}
