import { z } from 'zod';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { LIGHTNING_WEIGHTS } from '../checkpoint/index.js';
import { DEFAULT_MODEL } from '../hub/index.js';
import { LogLevelSchema } from '../log.js';
import { DEVICES, ProviderOptionsSchema } from '../runtime/index.js';
import type { SchedulerOptions } from '../scheduler/index.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** 512 positions through the output layer of a 50k vocabulary is about 100 MB per float64 tensor of the draw. */
export const DEFAULT_BATCH_ENTRIES = 512;

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
    shutdownTimeoutMs: int(0).default(30_000).describe('on SIGTERM, how long running requests may take before they are cancelled'),
    modelsDir: z.string().min(1).optional().describe('conversion cache root'),
    dtype: z.enum(['fp32', 'fp16']).default('fp32').describe('weight precision of the export built from a hub model or checkpoint'),
    logLevel: LogLevelSchema.default('info').describe('log level: fatal, error, warn, info, debug, trace or silent'),
  })
  .strict();

export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type Limits = ServerConfig['limits'];

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  const parsed = ServerConfigSchema.safeParse(input);
  if (!parsed.success) throw new MdlmError(ErrorCodes.invalidArgument, `server config: ${describeZodIssues(parsed.error)}`, { details: parsed.error.issues });
  return parsed.data;
}

/** The scheduler's share of the configuration. */
export function schedulerOptions(config: ServerConfig): SchedulerOptions {
  return { maxBatch: config.maxBatch, maxBatchEntries: config.maxBatchEntries, maxQueue: config.maxQueue, batchWaitMs: config.batchWaitMs };
}
