/** What `mdlm bench http --json` prints: one sweep, level by level, mix entry by mix entry. */
import { z } from 'zod';
import { ENDPOINTS } from './mix.js';

const count = z.number().int().min(0);
const rate = z.number().min(0);
/** A figure the run could not measure (no successes, no such metric) is null, never 0. */
const figure = z.number().nullable();

export const PercentilesSchema = z.object({ p50: z.number(), p90: z.number(), p99: z.number() });
export type Percentiles = z.infer<typeof PercentilesSchema>;

const EntryErrorsSchema = z.array(
  z.object({
    status: z.number().int().nullable().describe('HTTP status; null when no HTTP answer came (timeout, connection error)'),
    code: z.string().describe("the error envelope's code, or timeout, connection_error, stream_truncated, no_error_code, unexpected_answer"),
    count: count,
    message: z.string().describe('the first message seen with this status and code'),
  }),
);
export type EntryErrors = z.infer<typeof EntryErrorsSchema>;

const DiffusionSchema = z.object({
  stepsPerRequest: figure.describe('denoising steps per request (per sample, over all rounds), as the responses report them'),
  forwardPassesPerRequest: figure.describe('forward passes per request (NFE), summed over its samples'),
  tokensPerForwardPass: figure.describe('generated tokens per forward pass of one sequence (TPF)'),
  queuedMs: figure.describe('mean time from admission to the first forward pass, as the responses report it'),
});

export const EntryResultSchema = z.object({
  name: z.string(),
  endpoint: z.enum(ENDPOINTS),
  stream: z.boolean(),
  connections: count.describe('requests this entry kept in flight (at most, with a rate)'),
  rate: rate.nullable().describe('requests/s this entry was sent at, or null for a closed loop'),
  elapsedS: rate,
  completed: count,
  failed: count,
  requestsPerS: rate,
  tokens: count,
  tokensPerS: rate,
  latencyMs: PercentilesSchema.nullable().describe('of the successful requests: to the whole response, or to the final event of a stream'),
  firstEventMs: PercentilesSchema.nullable().describe('streams: to the first event carrying tokens'),
  diffusion: DiffusionSchema,
  errors: EntryErrorsSchema,
});
export type EntryResult = z.infer<typeof EntryResultSchema>;

export const ServerViewSchema = z.object({
  forwardPassesPerS: figure,
  meanRowsPerPass: figure.describe('sequences per batched forward pass'),
  tokensPerPass: figure.describe('tokens drawn per batched forward pass'),
  tokensPerRowPass: figure.describe("tokens drawn per sequence per pass: the server's TPF over all traffic"),
  meanPassMs: figure,
  busy: figure.describe('share of the wall time spent in forward passes (above 1 with several workers)'),
  queueDepth: z.object({ mean: z.number(), max: z.number() }).nullable().describe('sampled from /metrics while the level ran'),
});
export type ServerView = z.infer<typeof ServerViewSchema>;

export const LevelResultSchema = z.object({
  concurrency: count.nullable().describe('the level of a concurrency sweep'),
  rate: rate.nullable().describe('the level of a rate sweep, requests/s'),
  inFlight: count.describe('connections over all entries (each entry gets at least one)'),
  elapsedS: rate,
  completed: count,
  failed: count,
  requestsPerS: rate,
  tokensPerS: rate,
  entries: z.array(EntryResultSchema),
  server: ServerViewSchema.nullable(),
  serverNote: z.string().nullable().describe('why some server figures are missing'),
});
export type LevelResult = z.infer<typeof LevelResultSchema>;

export const BenchHttpResultSchema = z.object({
  url: z.string(),
  model: z.object({ id: z.string(), modelLength: count, parameterization: z.string(), provider: z.string() }),
  loadGenerator: z.string().describe('the machine the bench ran on (the server may be elsewhere)'),
  sweep: z.enum(['concurrency', 'rate']),
  durationS: rate.nullable(),
  requestsPerLevel: count.nullable(),
  warmupS: rate,
  seed: count,
  mix: z.array(z.object({ name: z.string(), endpoint: z.enum(ENDPOINTS), stream: z.boolean(), weight: z.number(), body: z.record(z.string(), z.unknown()) })),
  levels: z.array(LevelResultSchema),
});
export type BenchHttpResult = z.infer<typeof BenchHttpResultSchema>;

/** How a level is named in progress lines, errors and the chart. */
export function levelLabel(level: { concurrency: number | null; rate: number | null }): string {
  return level.concurrency === null ? `rate ${level.rate}/s` : `concurrency ${level.concurrency}`;
}
