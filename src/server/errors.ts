/**
 * Every error a client sees, over HTTP, server-sent events or the WebSocket, is one
 * envelope: {"error": {"code", "message", "type", "param"}}. This module turns whatever
 * was thrown into that envelope and its HTTP status; messages of unexpected errors stay in
 * the log, never in a response.
 */
import type { FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ErrorCode, ErrorCodes, MdlmError, fieldError, fieldOf, isMdlmError } from '../errors.js';

/** How long a client told "overloaded" should wait before trying again. */
export const RETRY_AFTER_S = 1;

export interface ApiError {
  status: number;
  code: ErrorCode;
  message: string;
  /** OpenAI's error classes, so OpenAI clients raise the matching exception. */
  type: string;
  /** The request field at fault, or null. */
  param: string | null;
  headers: Record<string, string>;
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; type: string; param: string | null };
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.validation]: 400,
  [ErrorCodes.invalidArgument]: 400,
  [ErrorCodes.promptTooLong]: 400,
  [ErrorCodes.tokenizerError]: 400,
  [ErrorCodes.unsupportedParameter]: 400,
  [ErrorCodes.unsupportedMethod]: 400,
  [ErrorCodes.sequenceTooLong]: 400,
  [ErrorCodes.unauthorized]: 401,
  [ErrorCodes.notFound]: 404,
  [ErrorCodes.modelNotFound]: 404,
  [ErrorCodes.duplicateId]: 400,
  [ErrorCodes.bodyTooLarge]: 413,
  // nginx's "client closed request": the client is gone, the status only reaches the log.
  [ErrorCodes.cancelled]: 499,
  [ErrorCodes.inferenceFailed]: 500,
  [ErrorCodes.overloaded]: 503,
  [ErrorCodes.shuttingDown]: 503,
  [ErrorCodes.workerCrashed]: 503,
  [ErrorCodes.workerUnavailable]: 503,
  [ErrorCodes.badRequest]: 400,
  [ErrorCodes.requestTimeout]: 408,
  [ErrorCodes.uriTooLong]: 414,
  [ErrorCodes.unsupportedMediaType]: 415,
  [ErrorCodes.rangeNotSatisfiable]: 416,
  [ErrorCodes.expectationFailed]: 417,
  [ErrorCodes.upgradeRequired]: 426,
  [ErrorCodes.headersTooLarge]: 431,
  [ErrorCodes.notImplemented]: 501,
};

/** Headers a code always carries: when to retry, what to upgrade to. */
const HEADERS_BY_CODE: Partial<Record<ErrorCode, Record<string, string>>> = {
  [ErrorCodes.overloaded]: { 'retry-after': String(RETRY_AFTER_S) },
  [ErrorCodes.upgradeRequired]: { upgrade: 'websocket', 'sec-websocket-version': '13' },
};

/**
 * What a status that Fastify or a plugin chose means here, for errors whose own code says
 * nothing more: a static file refused as outside its root (403) is simply not there.
 */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  403: ErrorCodes.notFound,
  404: ErrorCodes.notFound,
  408: ErrorCodes.requestTimeout,
  414: ErrorCodes.uriTooLong,
  415: ErrorCodes.unsupportedMediaType,
  416: ErrorCodes.rangeNotSatisfiable,
  417: ErrorCodes.expectationFailed,
  431: ErrorCodes.headersTooLarge,
};

/** The service's errors name no field; these codes are always about one. */
const PARAM_BY_CODE: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.promptTooLong]: 'prompt',
};

interface Issue {
  path: readonly PropertyKey[];
  message: string;
  /** Set for unknown fields. */
  keys?: readonly string[];
}

/** One validation_error for a list of zod issues, naming each field; `whole` names what a field-less issue is about. */
export function validationError(issues: readonly Issue[], whole: string): MdlmError {
  const described = issues.flatMap((issue) =>
    issue.keys === undefined ? [{ param: fieldName(issue.path), message: issue.message }] : issue.keys.map((key) => ({ param: fieldName([...issue.path, key]), message: 'unknown field' })),
  );
  const message = described.map(({ param, message }) => `${param ?? whole}: ${message}`).join('; ');
  const param = described[0]?.param;
  return param === null || param === undefined ? new MdlmError(ErrorCodes.validation, message || 'invalid request') : fieldError(ErrorCodes.validation, param, message);
}

function fieldName(path: readonly PropertyKey[]): string | null {
  return path.length === 0 ? null : path.map(String).join('.');
}

export function toApiError(error: unknown): ApiError {
  const known = isMdlmError(error) ? error : fromFastifyError(error as FastifyError);
  const status = known === undefined ? undefined : STATUS_BY_CODE[known.code];
  if (known === undefined || status === undefined) return build(ErrorCodes.internal, 500, 'internal error', null);
  return build(known.code, status, known.message, fieldOf(known) ?? PARAM_BY_CODE[known.code] ?? null);
}

export function envelope(error: ApiError): ErrorEnvelope {
  return { error: { code: error.code, message: error.message, type: error.type, param: error.param } };
}

function build(code: ErrorCode, status: number, message: string, param: string | null): ApiError {
  return { status, code, message, type: openAiType(status), param, headers: { ...HEADERS_BY_CODE[code] } };
}

/** Fastify's own failures (parsing, body size, closing) in the envelope's terms; undefined for anything unexpected. */
function fromFastifyError(error: FastifyError): MdlmError | undefined {
  if (hasZodFastifySchemaValidationErrors(error)) {
    return validationError(
      error.validation.map((item) => ({
        path: item.instancePath.split('/').filter((part) => part !== ''),
        message: item.message ?? 'invalid',
        keys: (item.params as { keys?: string[] }).keys,
      })),
      'the body',
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MdlmError(ErrorCodes.validation, `the body is not valid JSON: ${error.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MdlmError(ErrorCodes.validation, "the body's content type is not supported; send it as application/json");
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MdlmError(ErrorCodes.bodyTooLarge, 'the request body is larger than this server accepts (see --body-limit)');
    case 'FST_ERR_BAD_URL':
      return new MdlmError(ErrorCodes.badRequest, `the URL is not valid: ${error.message}`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new MdlmError(ErrorCodes.uriTooLong, 'a path parameter is longer than this server accepts (100 characters)');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MdlmError(ErrorCodes.badRequest, 'the body does not match its Content-Length');
    // A streamed body (server-sent events) whose client hung up: a cancellation, not a server fault.
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new MdlmError(ErrorCodes.cancelled, 'the client went away before the stream ended');
  }
  return fromStatus(error.statusCode, error.message);
}

/** A client error known only by its status (a plugin's, say), in the code the status stands for. */
function fromStatus(status: number | undefined, message: string): MdlmError | undefined {
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const code = CODE_BY_STATUS[status] ?? ErrorCodes.badRequest;
  return new MdlmError(code, code === ErrorCodes.notFound ? 'there is no such file' : message);
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 499) return 'cancelled';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

export const ErrorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. validation_error, overloaded.'),
    message: z.string(),
    type: z.string(),
    param: z.string().nullable().describe('The request field at fault.'),
  }),
}).meta({ example: { error: { code: 'validation_error', message: 'steps: Too small: expected number to be >=1', type: 'invalid_request_error', param: 'steps' } } });

/** Response schemas every route shares: the error envelope for any failure. */
export const ERROR_RESPONSES = { '4xx': ErrorEnvelopeSchema, '5xx': ErrorEnvelopeSchema } as const;
