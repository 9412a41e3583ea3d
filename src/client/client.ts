/**
 * A client of a running mdlm-serve (or of a Kubernetes Service in front of many), for the
 * commands that send their work to a server instead of loading a model: the calls they need,
 * responses checked with zod, the server's errors kept with their codes, and refusals that
 * ask for a retry (a draining or overloaded replica) retried, as a balancer in front of a fleet
 * expects of its clients.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type ErrorCode, ErrorCodes, MdlmError } from '../errors.js';
import { describeZodIssues } from '../util/zod.js';

/** 503 codes that say "not now": another try, perhaps on another replica, is served. */
const RETRYABLE: ReadonlySet<string> = new Set([ErrorCodes.shuttingDown, ErrorCodes.overloaded, ErrorCodes.workerUnavailable, ErrorCodes.workerCrashed]);
const RETRY_PAUSE_MS = 250;
const MAX_RETRY_PAUSE_MS = 5000;

export const ClientOptionsSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  apiKey: z.string().min(1).optional(),
  /** Tries of a request refused with a retryable 503 before its error is the answer. */
  attempts: z.number().int().min(1).default(20),
});
export type ClientOptions = z.input<typeof ClientOptionsSchema>;

const count = z.number().int().min(0);

const ModelListSchema = z.object({
  data: z
    .array(
      z.looseObject({
        id: z.string(),
        model_length: count,
        vocab_size: count,
        parameterization: z.string(),
        time_conditioning: z.boolean(),
      }),
    )
    .min(1),
});
export type RemoteModel = z.infer<typeof ModelListSchema>['data'][number];

const TokenizeResponseSchema = z.looseObject({ tokens: z.array(count) });
const DetokenizeResponseSchema = z.looseObject({ prompt: z.string() });
const TokenizerInfoSchema = z.looseObject({ bos_token: z.string().nullable(), eos_token: z.string().nullable() });

export const RemoteScoreSchema = z.looseObject({
  method: z.enum(['elbo', 'ar']),
  seed: count,
  items: z.array(z.looseObject({ nll: z.number(), tokens: count, token_nll: z.array(z.number()) })),
});
export type RemoteScore = z.infer<typeof RemoteScoreSchema>;

export const RemoteGenerationSchema = z.looseObject({
  seed: count,
  samples: z.array(z.looseObject({ index: count, text: z.string(), token_ids: z.array(count), forward_passes: count })),
});
export type RemoteGeneration = z.infer<typeof RemoteGenerationSchema>;

const ErrorEnvelopeSchema = z.object({ error: z.looseObject({ code: z.string(), message: z.string() }) });
const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

export class MdlmClient {
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly attempts: number;

  constructor(options: ClientOptions) {
    const parsed = ClientOptionsSchema.safeParse(options);
    if (!parsed.success) throw new MdlmError(ErrorCodes.invalidArgument, `--server: ${describeZodIssues(parsed.error)}`);
    this.url = parsed.data.url;
    this.attempts = parsed.data.attempts;
    this.headers = { 'content-type': 'application/json', ...(parsed.data.apiKey === undefined ? {} : { authorization: `Bearer ${parsed.data.apiKey}` }) };
  }

  /** The one model the server serves. */
  async model(): Promise<RemoteModel> {
    return (await this.call('GET', '/v1/models', undefined, ModelListSchema)).data[0] as RemoteModel;
  }

  /** The ids of the tokenizer's BOS and EOS, read by tokenizing their text. */
  async specialIds(): Promise<{ bosId: number | undefined; eosId: number | undefined }> {
    const info = await this.call('GET', '/tokenizer_info', undefined, TokenizerInfoSchema);
    const idOf = async (token: string | null) => (token === null ? undefined : (await this.tokenize(token)).at(0));
    return { bosId: await idOf(info.bos_token), eosId: await idOf(info.eos_token) };
  }

  /** Text as ids, without special tokens. */
  async tokenize(text: string): Promise<number[]> {
    return (await this.call('POST', '/tokenize', { prompt: text, add_special_tokens: false }, TokenizeResponseSchema)).tokens;
  }

  /** Ids as text. */
  async detokenize(ids: readonly number[]): Promise<string> {
    return (await this.call('POST', '/detokenize', { tokens: ids }, DetokenizeResponseSchema)).prompt;
  }

  score(body: Record<string, unknown>): Promise<RemoteScore> {
    return this.call('POST', '/v1/score', body, RemoteScoreSchema);
  }

  generate(body: Record<string, unknown>): Promise<RemoteGeneration> {
    return this.call('POST', '/v1/generate', body, RemoteGenerationSchema);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const response = await this.send(method, path, body);
      const payload: unknown = await response.json().catch(() => undefined);
      if (response.ok) return this.check(path, schema, payload);
      const error = this.remoteError(path, response.status, payload);
      if (!(response.status === 503 && RETRYABLE.has(error.code)) || attempt >= this.attempts) throw error;
      const retryAfterS = Number(response.headers.get('retry-after'));
      await sleep(Math.min(MAX_RETRY_PAUSE_MS, retryAfterS > 0 ? retryAfterS * 1000 : RETRY_PAUSE_MS * attempt));
    }
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, { method, headers: this.headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new MdlmError(
        ErrorCodes.serverUnreachable,
        `cannot reach the server at ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message}): is it running, and is --server right?`,
        { cause: error },
      );
    }
  }

  private check<T>(path: string, schema: z.ZodType<T>, payload: unknown): T {
    const parsed = schema.safeParse(payload);
    if (!parsed.success)
      throw new MdlmError(ErrorCodes.unexpectedResponse, `${this.url}${path} answered something that is not mdlm-serve's (${describeZodIssues(parsed.error)})`);
    return parsed.data;
  }

  /** The server's error with its own code and message, said to come from the server. */
  private remoteError(path: string, status: number, payload: unknown): MdlmError {
    const envelope = ErrorEnvelopeSchema.safeParse(payload);
    if (!envelope.success) return new MdlmError(ErrorCodes.unexpectedResponse, `${this.url}${path} answered HTTP ${status} without mdlm-serve's error body`);
    const { code, message } = envelope.data.error;
    return new MdlmError(KNOWN_CODES.has(code) ? (code as ErrorCode) : ErrorCodes.internal, `the server at ${this.url} answered ${status}: ${message}`, {
      details: envelope.data.error,
    });
  }
}

/** `work` over every item, at most `concurrency` at once; the results in the items' order. */
export async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
