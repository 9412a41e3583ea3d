/**
 * The request mix: which endpoints the bench loads, with what bodies and in what shares.
 * It comes from a JSON file (any body the endpoint takes) or from kinds named on the command
 * line, whose bodies are sized from the served model: small windows and few steps, so that a
 * level measures the server, not one long request.
 */
import { z } from 'zod';
import type { ServedModel } from './target.js';

export const ENDPOINTS = ['/v1/generate', '/v1/completions', '/v1/score', '/v1/stream'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** The kinds --mix names; sse is /v1/completions streamed, ws the WebSocket /v1/stream. */
export const MIX_KINDS = ['generate', 'completions', 'sse', 'score', 'ws'] as const;
export type MixKind = (typeof MIX_KINDS)[number];

const MAX_ENTRIES = 16;
/** What the default requests ask for when the flags do not say: the docs' example window. */
const DEFAULT_WINDOW = 32;
const DEFAULT_STEPS = 32;
const DEFAULT_MAX_TOKENS = 16;
const DEFAULT_MC_SAMPLES = 4;
/** Fields the bench sets in every WebSocket message itself. */
const STREAM_MESSAGE_FIELDS = ['type', 'id'];

export interface MixEntry {
  name: string;
  endpoint: Endpoint;
  /** Whether the answer is a stream the bench times event by event (SSE completions, the WebSocket). */
  stream: boolean;
  weight: number;
  /** The body sent, less the seed each request gets. */
  body: Record<string, unknown>;
}

const Weight = z.number().positive().max(1_000_000);

export const MixFileSchema = z
  .array(
    z
      .strictObject({
        name: z.string().min(1).max(64).optional(),
        endpoint: z.enum(ENDPOINTS),
        body: z.record(z.string(), z.unknown()).default({}),
        weight: Weight.default(1),
      })
      .superRefine((entry, ctx) => {
        for (const field of STREAM_MESSAGE_FIELDS) {
          if (entry.endpoint === '/v1/stream' && field in entry.body)
            ctx.addIssue({ code: 'custom', path: ['body', field], message: 'is set by the bench for each message; leave it out' });
        }
      }),
  )
  .min(1)
  .max(MAX_ENTRIES)
  .refine((entries) => {
    const names = entries.flatMap((entry) => (entry.name === undefined ? [] : [entry.name]));
    return new Set(names).size === names.length;
  }, 'entry names must differ');
export type MixFile = z.output<typeof MixFileSchema>;

/** --mix generate=3,ws=1: kinds with optional weights (1 when left out). */
export const MixSpecSchema = z
  .string()
  .transform((text) =>
    text.split(',').map((part) => {
      const [kind, weight] = part.trim().split('=');
      return { kind, weight: weight === undefined ? 1 : Number(weight) };
    }),
  )
  .pipe(
    z
      .array(
        z.object({
          kind: z.enum(MIX_KINDS, { error: (issue) => `unknown kind ${JSON.stringify(issue.input)}: the kinds are ${MIX_KINDS.join(', ')}` }),
          weight: Weight,
        }),
      )
      .min(1)
      .max(MAX_ENTRIES)
      .refine((kinds) => new Set(kinds.map((entry) => entry.kind)).size === kinds.length, 'name each kind once'),
  );
export type MixSpec = z.output<typeof MixSpecSchema>;

/** What the default bodies of --mix kinds are made of; each left out is sized from the model. */
export interface BodyShape {
  prompt?: string;
  length?: number;
  steps?: number;
  maxTokens?: number;
}

export function mixFromKinds(spec: MixSpec, model: ServedModel, shape: BodyShape): MixEntry[] {
  return spec.map(({ kind, weight }) => ({ name: kind, ...kindRequest(kind, model, shape), weight }));
}

export function mixFromFile(file: MixFile, model: ServedModel): MixEntry[] {
  const entries = file.map((entry) => {
    const stream = entry.endpoint === '/v1/stream' || (entry.endpoint === '/v1/completions' && entry.body.stream === true);
    const body = entry.endpoint === '/v1/completions' ? completionBody(model, entry.body) : entry.body;
    return { name: entry.name ?? kindOf(entry.endpoint, stream), endpoint: entry.endpoint, stream, weight: entry.weight, body };
  });
  return uniqueNames(entries);
}

function kindRequest(kind: MixKind, model: ServedModel, shape: BodyShape): Pick<MixEntry, 'endpoint' | 'stream' | 'body'> {
  const window = Math.min(shape.length ?? DEFAULT_WINDOW, model.modelLength);
  // An autoregressive model takes no steps: one per token.
  const sampling = model.parameterization === 'ar' ? {} : { steps: shape.steps ?? DEFAULT_STEPS };
  const prompt = shape.prompt === undefined ? {} : { prompt: shape.prompt };
  const generation = { ...prompt, length: window, ...sampling };
  const completion = { prompt: shape.prompt ?? '', max_tokens: shape.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, window), ...sampling };
  switch (kind) {
    case 'generate':
      return { endpoint: '/v1/generate', stream: false, body: generation };
    case 'ws':
      return { endpoint: '/v1/stream', stream: true, body: generation };
    case 'completions':
      return { endpoint: '/v1/completions', stream: false, body: completionBody(model, completion) };
    case 'sse':
      return { endpoint: '/v1/completions', stream: true, body: completionBody(model, { ...completion, stream: true }) };
    case 'score':
      return { endpoint: '/v1/score', stream: false, body: { items: [scoredItem(shape.prompt, window)], mc_samples: DEFAULT_MC_SAMPLES } };
  }
}

/**
 * A completion names the served model unless the body does, and a streamed one asks for the
 * usage chunk: the only place a stream reports how many tokens it generated.
 */
function completionBody(model: ServedModel, body: Record<string, unknown>): Record<string, unknown> {
  const named = { model: model.id, ...body };
  if (body.stream !== true) return named;
  const options = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
  return { ...named, stream_options: { ...options, include_usage: true } };
}

/** The prompt when one is given, else the first ids of the vocabulary: every tokenizer has them. */
function scoredItem(prompt: string | undefined, window: number): Record<string, unknown> {
  if (prompt !== undefined && prompt !== '') return { text: prompt };
  return { token_ids: Array.from({ length: Math.min(DEFAULT_MAX_TOKENS, window) }, (_, i) => i + 1) };
}

function kindOf(endpoint: Endpoint, stream: boolean): string {
  if (endpoint === '/v1/completions') return stream ? 'sse' : 'completions';
  return endpoint === '/v1/stream' ? 'ws' : endpoint.slice('/v1/'.length);
}

/** Entries named after their kind get #2, #3… when several share it. */
function uniqueNames(entries: MixEntry[]): MixEntry[] {
  const seen = new Map<string, number>();
  return entries.map((entry) => {
    const times = (seen.get(entry.name) ?? 0) + 1;
    seen.set(entry.name, times);
    return times === 1 ? entry : { ...entry, name: `${entry.name} #${times}` };
  });
}

/** The body of one request: the entry's, with this request's seed. */
export function requestBody(entry: MixEntry, seed: number): Record<string, unknown> {
  return { ...entry.body, seed };
}

/**
 * `total` split by weight (largest remainders), at least 1 each: every entry runs at every
 * level, so a level below the number of entries runs one of each.
 */
export function splitByWeight(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((weight) => (total * weight) / sum);
  const shares = exact.map(Math.floor);
  const order = exact.map((value, index) => ({ index, remainder: value - Math.floor(value) })).sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  let left = total - shares.reduce((a, b) => a + b, 0);
  for (const { index } of order) {
    if (left-- <= 0) break;
    shares[index] = (shares[index] as number) + 1;
  }
  return shares.map((share) => Math.max(1, share));
}
