/**
 * The server under test, seen only through its public API: where its endpoints are, the
 * headers every request carries, what it serves (GET /v1/models) and whether it is there.
 */
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { errorOfBody, parseJson } from './responses.js';

/** How long the checks outside the measured load (models, metrics, probes) may take. */
const PROBE_TIMEOUT_MS = 10_000;
/** Socket errors that mean nothing listens at the address any more (or never did). */
const GONE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

const ModelListSchema = z.object({
  data: z
    .array(
      z.object({
        id: z.string(),
        model_length: z.number().int().positive(),
        vocab_size: z.number().int().positive(),
        parameterization: z.string(),
        provider: z.string(),
      }),
    )
    .min(1),
});

/** What the bench needs to know of the served model to size its default requests. */
export interface ServedModel {
  id: string;
  modelLength: number;
  vocabSize: number;
  parameterization: string;
  provider: string;
}

export class BenchTarget {
  readonly base: URL;
  readonly headers: Record<string, string>;

  constructor(url: string, apiKey: string | undefined) {
    this.base = new URL(url);
    this.headers = { 'content-type': 'application/json', ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }) };
  }

  /** An endpoint's URL; the WebSocket's with the ws: or wss: scheme. */
  endpoint(path: string, websocket = false): string {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    if (websocket) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  /** GET /v1/models: the served model, or a clear error when nothing or something else answers. */
  async model(): Promise<ServedModel> {
    const response = await this.get('/v1/models');
    const text = await response.text();
    if (!response.ok) throw refusal(this.endpoint('/v1/models'), response.status, text);
    const parsed = ModelListSchema.safeParse(parseJson(text));
    if (!parsed.success)
      throw new MdlmError(
        ErrorCodes.unexpectedResponse,
        `${this.endpoint('/v1/models')} does not answer as mdlm-serve does (no model list with model_length); is this the right URL?`,
      );
    const model = parsed.data.data[0] as z.infer<typeof ModelListSchema>['data'][number];
    return { id: model.id, modelLength: model.model_length, vocabSize: model.vocab_size, parameterization: model.parameterization, provider: model.provider };
  }

  /** GET /metrics as text, or why it cannot be read (the figures that need it are then left out). */
  async metricsText(): Promise<{ text: string } | { problem: string }> {
    try {
      const response = await this.get('/metrics');
      const text = await response.text();
      return response.ok ? { text } : { problem: `GET /metrics answered ${response.status}${codeSuffix(text)}` };
    } catch (error) {
      return { problem: `GET /metrics failed: ${describeFailure(error)}` };
    }
  }

  /** Whether anything still answers at the URL (any HTTP status counts). */
  async answers(): Promise<boolean> {
    try {
      await (await this.get('/healthz')).arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  /** The error for a server that went away while the bench ran. */
  wentAway(during: string, cause: unknown): MdlmError {
    return new MdlmError(ErrorCodes.serverUnreachable, `the server at ${this.base.origin} stopped answering during ${during}: ${describeFailure(cause)}`, {
      cause,
    });
  }

  private async get(path: string): Promise<Response> {
    const url = this.endpoint(path);
    try {
      return await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    } catch (error) {
      throw new MdlmError(ErrorCodes.serverUnreachable, `no server answers at ${url}: ${describeFailure(error)}`, { cause: error });
    }
  }
}

/** A refused check, with the server's own error code when it sent one. */
function refusal(url: string, status: number, body: string): MdlmError {
  const code = status === 401 ? ErrorCodes.unauthorized : ErrorCodes.unexpectedResponse;
  const hint = status === 401 ? ' (give the key with --api-key or MDLM_API_KEY)' : '';
  return new MdlmError(code, `${url} answered ${status}${codeSuffix(body)}${hint}`);
}

function codeSuffix(body: string): string {
  const error = errorOfBody(body);
  return error === undefined ? '' : ` ${error.code}: ${error.message}`;
}

/** The socket-level code of a failed request (fetch wraps it in `cause`; ws and autocannon do not). */
export function failureCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A failure that means nothing listens at the server's address. */
export function isServerGone(error: unknown): boolean {
  return GONE_CODES.has(failureCode(error) ?? '');
}

export function describeFailure(error: unknown): string {
  const code = failureCode(error);
  const message = (error as { cause?: Error }).cause?.message ?? (error as Error).message ?? String(error);
  return code === undefined || message.includes(code) ? message : `${code}: ${message}`;
}
