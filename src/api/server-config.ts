/**
 * The server's settings: what `mdlm serve` derives its flags from (names, descriptions,
 * defaults) and what the server is built with. Here rather than in src/server so that the CLI
 * reads it without loading the HTTP stack, which only `serve` needs.
 */
import { z } from 'zod';
import { LIGHTNING_WEIGHTS } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { DEFAULT_BATCH_ENTRIES, DEVICES, ProviderOptionsSchema, type SchedulerOptions } from '../generation/index.js';
import { DEFAULT_MODEL } from '../hub/index.js';
import { LogLevelSchema } from '../log.js';
import { WEIGHT_DTYPES } from '../model/index.js';
import { describeZodIssues } from '../util/zod.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

const HOUR_MS = 3_600_000;

/** What one request, message or socket may ask of the server. */
export const LimitsSchema = z
  .object({
    bodyLimit: int(1024).default(1_048_576).describe('largest request body and WebSocket message, in bytes'),
    maxSteps: int(1).default(10_000).describe('most reverse-process steps a request may ask for (per round)'),
    maxNumSamples: int(1).default(16).describe('most samples in one request (completions: prompts × n)'),
    maxStrides: int(0).default(64).describe('most semi-autoregressive strides (num_strides)'),
    maxPromptTokens: int(1).default(4096).describe('most prompt and suffix tokens together'),
    maxOutputTokens: int(1).default(8192).describe("most tokens in one sample's output: prompt, generated tokens and suffix"),
    maxSocketRequests: int(1).default(16).describe('most requests one WebSocket may have in flight or waiting to be delivered'),
    maxScoreItems: int(1).default(64).describe('most items in one /v1/score request'),
    maxMcSamples: int(1).default(10_000).describe('most Monte Carlo draws per scored item (mc_samples)'),
    streamHighWaterMark: int(0)
      .default(1_048_576)
      .describe('bytes a WebSocket may have buffered before step updates are merged until the client catches up'),
  })
  .strict();

export const ServerConfigSchema = z
  .object({
    model: z.string().min(1).default(DEFAULT_MODEL).describe('hub id (owner/name[@revision]), checkpoint directory, Lightning .ckpt file or export directory'),
    weights: z.enum(LIGHTNING_WEIGHTS).optional().describe("a .ckpt's weights: ema (the default, what the seed samples and evaluates with) or raw"),
    tokenizer: z.string().min(1).optional().describe('tokenizer.json + tokenizer_config.json to convert a checkpoint with (default: its own, else the one it names)'),
    host: z.string().min(1).default('127.0.0.1').describe('address to listen on (0.0.0.0: every interface)'),
    port: int(0, 65_535).default(8000).describe('port to listen on (0: any free port)'),
    device: z.enum(DEVICES).default('auto').describe(`execution provider: ${DEVICES.join(', ')} (auto: the fastest that works, else the CPU)`),
    providerOptions: ProviderOptionsSchema.prefault({}).describe('onnxruntime provider options as JSON, e.g. {"cuda":{"deviceId":1}}'),
    workers: int(1, 256).default(1).describe('inference worker threads, each with its own session'),
    maxBatch: int(1, 4096).default(16).describe('most sequences in one forward pass'),
    maxBatchEntries: int(1, 1_048_576)
      .default(DEFAULT_BATCH_ENTRIES)
      .describe('most positions drawn or scored in one forward pass: bounds the memory of its output layer (each costs vocab_size × 16 bytes)'),
    maxQueue: int(1).default(256).describe('most sequences admitted at once; more is refused with 503'),
    batchWaitMs: z.number().min(0).max(60_000).default(0).describe('how long a free worker waits for a fuller batch'),
    apiKey: z.string().min(1).optional().describe('when set, requests need Authorization: Bearer <key> or x-api-key'),
    limits: LimitsSchema.prefault({}),
    shutdownTimeoutMs: int(0).default(30_000).describe('on SIGTERM, how long running requests may take before they are cancelled, and sockets still open after them are cut'),
    drainDelayMs: int(0, HOUR_MS)
      .default(0)
      .describe(
        'on SIGTERM, how long idle keep-alive connections stay open, new work on them answered 503 shutting_down with Connection: close, before they are closed: longer than a load balancer takes to see /readyz fail',
      ),
    headersTimeoutMs: int(1, HOUR_MS).default(10_000).describe("how long a client may take to send a request's headers; then 408"),
    requestTimeoutMs: int(1, HOUR_MS).default(30_000).describe('how long a client may take to send a whole request, body included; then 408'),
    keepAliveTimeoutMs: int(1, HOUR_MS)
      .default(72_000)
      .describe('how long an idle keep-alive connection stays open (longer than the 60 s idle timeout of common load balancers)'),
    modelsDir: z.string().min(1).optional().describe('conversion cache root'),
    dtype: z.enum(WEIGHT_DTYPES).default('fp32').describe('weight precision of the export built from a hub model or checkpoint'),
    logLevel: LogLevelSchema.default('info').describe('log level: fatal, error, warn, info, debug, trace or silent'),
  })
  .strict();

export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type Limits = ServerConfig['limits'];

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  const parsed = ServerConfigSchema.superRefine((config, ctx) => checkSettingsAgree({ ...config, ...config.limits }, ctx)).safeParse(input);
  if (!parsed.success) throw new MdlmError(ErrorCodes.invalidArgument, `server config: ${describeZodIssues(parsed.error)}`, { details: parsed.error.issues });
  return parsed.data;
}

/** The settings that bound one another, as the flags and the config both hold them. */
type AgreeingSettings = Pick<ServerConfig, 'maxQueue' | 'headersTimeoutMs' | 'requestTimeoutMs'> & Pick<Limits, 'maxNumSamples'>;

/**
 * Settings that are each valid but contradict one another, refused at start-up rather than on
 * every request: with --max-queue below --max-num-samples, a request the schemas accept could
 * never be admitted, even by an idle server, and would be told to retry forever. The headers
 * are part of the request, so their timeout cannot be the longer one (Node refuses it too).
 */
export function checkSettingsAgree(settings: AgreeingSettings, ctx: z.RefinementCtx): void {
  if (settings.maxQueue < settings.maxNumSamples) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxQueue'],
      message: `must be at least --max-num-samples (${settings.maxNumSamples}), or a request of that many samples could never be admitted`,
    });
  }
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    ctx.addIssue({ code: 'custom', path: ['headersTimeoutMs'], message: `must be at most --request-timeout-ms (${settings.requestTimeoutMs})` });
  }
}

/** The scheduler's share of the configuration. */
export function schedulerOptions(config: ServerConfig): SchedulerOptions {
  return { maxBatch: config.maxBatch, maxBatchEntries: config.maxBatchEntries, maxQueue: config.maxQueue, batchWaitMs: config.batchWaitMs };
}
