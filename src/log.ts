/**
 * The process's one logger: pino JSON lines on stdout. The HTTP server hands it to Fastify,
 * which gives every request a child logger carrying the request id.
 */
import { randomUUID } from 'node:crypto';
import { type DestinationStream, type Logger, pino } from 'pino';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;
export type { Logger } from 'pino';

/** The field that carries the request id on every line of a request. */
export const REQUEST_ID_FIELD = 'request_id';
export const REQUEST_ID_HEADER = 'x-request-id';

export interface LoggerOptions {
  /** Default: env MDLM_LOG_LEVEL, else info. */
  level?: LogLevel;
  /** Default: stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = { level: options.level ?? levelFromEnv(), timestamp: pino.stdTimeFunctions.isoTime };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

function levelFromEnv(): LogLevel {
  const raw = process.env.MDLM_LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  const parsed = LogLevelSchema.safeParse(raw);
  if (!parsed.success) throw new MdlmError(ErrorCodes.invalidArgument, `MDLM_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  return parsed.data;
}

/** A caller's id is kept when it is a plain token (so it cannot forge log fields or headers); otherwise a fresh one. */
const IncomingRequestId = z.string().regex(/^[\w.:@/+=-]{1,128}$/);

/** The id of one request: the incoming x-request-id when it is usable, else a new UUID. */
export function requestId(incoming: string | string[] | undefined): string {
  const parsed = IncomingRequestId.safeParse(incoming);
  return parsed.success ? parsed.data : randomUUID();
}
