/**
 * Every failure a user can see carries a stable `code` so that scripts, HTTP clients and
 * tests can react to the kind of failure without parsing prose.
 */
export const ErrorCodes = {
  invalidConfig: 'invalid_config',
  invalidCheckpoint: 'invalid_checkpoint',
  corruptFile: 'corrupt_file',
  unsupportedDtype: 'unsupported_dtype',
  invalidArgument: 'invalid_argument',
  staleExport: 'stale_export',
  exportFailed: 'export_failed',
  modelNotFound: 'model_not_found',
  hubUnreachable: 'hub_unreachable',
  hubUnauthorized: 'hub_unauthorized',
  hubNotFound: 'hub_not_found',
  hubError: 'hub_error',
  tokenizerError: 'tokenizer_error',
  providerUnavailable: 'provider_unavailable',
  inferenceFailed: 'inference_failed',
  workerCrashed: 'worker_crashed',
  overloaded: 'overloaded',
  cancelled: 'cancelled',
  promptTooLong: 'prompt_too_long',
  validation: 'validation_error',
  bodyTooLarge: 'body_too_large',
  /** A WebSocket request id still in flight on that socket: the running request carries on. */
  duplicateId: 'duplicate_id',
  unauthorized: 'unauthorized',
  notFound: 'not_found',
  shuttingDown: 'shutting_down',
  internal: 'internal_error',
  /** An item to score does not fit the model's window. */
  sequenceTooLong: 'sequence_too_long',
  /** An OpenAI parameter this server accepts only at its neutral value (penalties, best_of, logit_bias). */
  unsupportedParameter: 'unsupported_parameter',
  /** The server cannot listen where it was told to: the port is taken, privileged, or the address is not this machine's. */
  addressInUse: 'address_in_use',
  /** The scoring method cannot be used with this model (ar on a time-conditioned checkpoint). */
  unsupportedMethod: 'unsupported_method',
  /** A checkpoint whose pickle would run code (a non-allow-listed callable) or hides an unknown object among the weights. */
  unsafeCheckpoint: 'unsafe_checkpoint',
  /** A samples file (mdlm eval gen-ppl --samples) that is neither generate --json output nor JSONL of text / token_ids. */
  invalidSamples: 'invalid_samples',
  /** The HTTP request itself is malformed: unparsable, a bad URL, no Host header, an upgrade its route does not take. */
  badRequest: 'bad_request',
  /** The client did not send its whole request within --headers-timeout-ms / --request-timeout-ms. */
  requestTimeout: 'request_timeout',
  uriTooLong: 'uri_too_long',
  /** A Content-Encoding or charset the server does not decode. */
  unsupportedMediaType: 'unsupported_media_type',
  rangeNotSatisfiable: 'range_not_satisfiable',
  /** An Expect header other than 100-continue. */
  expectationFailed: 'expectation_failed',
  /** A plain HTTP request to the WebSocket endpoint, or a WebSocket version other than 13. */
  upgradeRequired: 'upgrade_required',
  headersTooLarge: 'headers_too_large',
  /** A Transfer-Encoding other than chunked. */
  notImplemented: 'not_implemented',
  /** No inference worker can run (none could be restarted): queued and new work is refused until a restart succeeds. */
  workerUnavailable: 'worker_unavailable',
  /** A checkpoint this server reads but cannot serve (the seed's d3pm, a SEDD model without time conditioning). */
  unsupportedModel: 'unsupported_model',
  /** Nothing answers at a server's URL (mdlm bench http, a command's --server), or the server went away during the run. */
  serverUnreachable: 'server_unreachable',
  /** mdlm bench http: something answers at the URL, but not as an mdlm-serve server does. */
  unexpectedResponse: 'unexpected_response',
  /** mdlm bench http: more requests failed than --max-error-rate allows (the figures are printed all the same). */
  benchRequestsFailed: 'bench_requests_failed',
  /** Shard results (mdlm eval merge) that are not the shards of one run. */
  invalidShards: 'invalid_shards',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class MdlmError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MdlmError';
    this.code = code;
    this.details = options.details;
  }
}

export function isMdlmError(value: unknown): value is MdlmError {
  return value instanceof MdlmError;
}

/** What an error about one request field carries: the field, as clients name it (`semi_ar`, `items.0.context`). */
interface FieldDetails {
  param: string;
}

/** An error about one request field: HTTP answers name `param` in the envelope's `param`. */
export function fieldError(code: ErrorCode, param: string, message: string): MdlmError {
  return new MdlmError(code, message, { details: { param } satisfies FieldDetails });
}

/** The field an error is about, when it names one (see fieldError). */
export function fieldOf(error: MdlmError): string | undefined {
  const details = error.details as Partial<FieldDetails> | undefined;
  return typeof details?.param === 'string' ? details.param : undefined;
}

/** Refuses one request field with invalid_argument, the message naming it first (`eta: must be …`). */
export function refuseParam(param: string, message: string): never {
  throw fieldError(ErrorCodes.invalidArgument, param, `${param}: ${message}`);
}
