import { type Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { LimitsSchema, type ServerConfig, ServerConfigSchema, checkSettingsAgree, parseServerConfig, schedulerOptions } from '../../api/index.js';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { GenerationService } from '../../generation/index.js';
import { type ResolvedModel, modelIdOf, resolveModel } from '../../hub/index.js';
import { type Logger, createLogger } from '../../log.js';
import { describeProviderChoice } from '../../runtime/index.js';
import { exitOnSignals } from '../interrupt.js';
import { envVarOf, kebab, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';

/** The config with its limits flattened: one flag per field. */
const FlagFields = ServerConfigSchema.omit({ limits: true }).extend(LimitsSchema.shape);
const ServeFlags = FlagFields.superRefine(checkSettingsAgree);
type FlagName = keyof typeof FlagFields.shape;
const LIMIT_NAMES = Object.keys(LimitsSchema.shape) as (keyof typeof LimitsSchema.shape)[];
const DEFAULTS = ServeFlags.parse({});

const toNumber = (value: string): number => (value.trim() === '' ? Number.NaN : Number(value));
const toJson = (value: string): unknown => {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('not valid JSON');
  }
};

/** Flag value placeholders and parsers; names, descriptions and defaults come from the config schema. */
const FLAGS: { name: FlagName; value: string; parse?: (value: string) => unknown }[] = [
  { name: 'model', value: '<reference>' },
  { name: 'weights', value: '<weights>' },
  { name: 'tokenizer', value: '<dir>' },
  { name: 'host', value: '<address>' },
  { name: 'port', value: '<n>', parse: toNumber },
  { name: 'device', value: '<device>' },
  { name: 'providerOptions', value: '<json>', parse: toJson },
  { name: 'workers', value: '<n>', parse: toNumber },
  { name: 'maxBatch', value: '<n>', parse: toNumber },
  { name: 'maxBatchEntries', value: '<n>', parse: toNumber },
  { name: 'maxQueue', value: '<n>', parse: toNumber },
  { name: 'batchWaitMs', value: '<ms>', parse: toNumber },
  { name: 'apiKey', value: '<key>' },
  { name: 'bodyLimit', value: '<bytes>', parse: toNumber },
  { name: 'maxSteps', value: '<n>', parse: toNumber },
  { name: 'maxNumSamples', value: '<n>', parse: toNumber },
  { name: 'maxStrides', value: '<n>', parse: toNumber },
  { name: 'maxPromptTokens', value: '<n>', parse: toNumber },
  { name: 'maxOutputTokens', value: '<n>', parse: toNumber },
  { name: 'maxSocketRequests', value: '<n>', parse: toNumber },
  { name: 'maxScoreItems', value: '<n>', parse: toNumber },
  { name: 'maxMcSamples', value: '<n>', parse: toNumber },
  { name: 'streamHighWaterMark', value: '<bytes>', parse: toNumber },
  { name: 'shutdownTimeoutMs', value: '<ms>', parse: toNumber },
  { name: 'drainDelayMs', value: '<ms>', parse: toNumber },
  { name: 'headersTimeoutMs', value: '<ms>', parse: toNumber },
  { name: 'requestTimeoutMs', value: '<ms>', parse: toNumber },
  { name: 'keepAliveTimeoutMs', value: '<ms>', parse: toNumber },
  { name: 'modelsDir', value: '<dir>' },
  { name: 'dtype', value: '<dtype>' },
  { name: 'logLevel', value: '<level>' },
];

const HELP_AFTER = `
Every flag can also be set by the environment variable shown beside it (MDLM_ and the
flag's name); a flag wins over its variable. PORT is read when neither --port nor
MDLM_PORT is set. Hub downloads follow HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT and
HF_HUB_OFFLINE.

On SIGTERM (or Ctrl-C) the server stops taking work (/readyz answers 503, new requests get
shutting_down), keeps idle keep-alive connections open for --drain-delay-ms (a load balancer
still sending on them gets a retryable 503 rather than a closed connection), lets running
requests finish for --shutdown-timeout-ms, cancels the rest, cuts the connections that are
still open after a short grace, and exits 0.`;

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('Serve a model over HTTP: /v1/generate, OpenAI-compatible /v1/completions, WebSocket /v1/stream, /metrics, /docs')
    .addHelpText('after', HELP_AFTER);
  for (const flag of FLAGS) command.addOption(option(flag));
  command.action(async (raw: Record<string, unknown>, self: Command) => {
    const port = process.env.PORT;
    if (self.getOptionValueSource('port') === 'default' && port !== undefined && port !== '') raw.port = toNumber(port);
    await serve(configFromFlags(parseFlags(ServeFlags, raw, self)));
  });
}

function option({ name, value, parse }: (typeof FLAGS)[number]): Option {
  const flag = kebab(name);
  const created = new Option(`--${flag} ${value}`, FlagFields.shape[name].description ?? '').env(envVarOf(flag));
  if (parse !== undefined) created.argParser(parse);
  const fallback = DEFAULTS[name];
  // An empty provider-options object says nothing worth showing.
  if (fallback !== undefined && name !== 'providerOptions') created.default(fallback);
  return created;
}

function configFromFlags(flags: z.output<typeof ServeFlags>): ServerConfig {
  const limits = Object.fromEntries(LIMIT_NAMES.map((name) => [name, flags[name]]));
  const rest = Object.fromEntries(Object.entries(flags).filter(([name]) => !(LIMIT_NAMES as string[]).includes(name)));
  return parseServerConfig({ ...rest, limits });
}

async function serve(config: ServerConfig): Promise<void> {
  // The HTTP stack loads while the model does: other commands never load it at all.
  const server = import('../../server/index.js');
  const logger = createLogger({ level: config.logLevel });
  const stopExitingOnSignals = exitOnSignals();
  const resolved = await resolveWithProgress(config);
  for (const notice of resolved.notices) logger.warn(notice);
  const service = await GenerationService.open({
    exportDir: resolved.exportDir,
    device: config.device,
    providerOptions: config.providerOptions,
    workers: config.workers,
    scheduler: schedulerOptions(config),
  });
  const { buildServer, shutdownGracefully } = await server;
  const app = buildServer({ service, config, logger, modelId: modelIdOf(resolved) });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await service.close();
    throw listenError(error, config);
  }
  logStartup(logger, resolved, service, app.listeningOrigin);
  stopExitingOnSignals();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info({ timeout_ms: config.shutdownTimeoutMs, drain_delay_ms: config.drainDelayMs }, `${signal}: finishing the requests in flight, accepting no new ones`);
  const finished = await shutdownGracefully(app, config.shutdownTimeoutMs, config.drainDelayMs);
  await service.close();
  logger.info({ finished_in_time: finished }, 'stopped');
  exitIfStillHeld(logger);
}

/** How long the process may take to end by itself once everything is closed. */
const EXIT_GRACE_MS = 2000;

/**
 * Everything the server opened is closed by now, so the process should end by itself. Should
 * anything else still hold it (a handle some dependency left open), exit anyway rather than
 * hang until the orchestrator's SIGKILL; the timer is unref'd, so it never delays an exit.
 */
function exitIfStillHeld(logger: Logger): void {
  setTimeout(() => {
    logger.warn({ handles: process.getActiveResourcesInfo() }, 'the process is still held open after shutdown; exiting');
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

/** The listen failures an operator can fix, as a code and the fix; anything else as it is. */
function listenError(error: unknown, { host, port }: ServerConfig): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new MdlmError(ErrorCodes.addressInUse, `${host}:${port} is in use: another server is listening there. Stop it, or choose another port with --port (or MDLM_PORT; 0 picks a free one)`);
  }
  if (code === 'EACCES') return new MdlmError(ErrorCodes.addressInUse, `${host}:${port} needs privileges this process lacks (ports below 1024 do): choose another with --port`);
  if (code === 'EADDRNOTAVAIL') return new MdlmError(ErrorCodes.addressInUse, `${host} is not an address of this machine: choose another with --host (127.0.0.1, or 0.0.0.0 for every interface)`);
  return error;
}

/** Progress bars on stderr (terminals only) while a hub model downloads and converts. */
async function resolveWithProgress(config: ServerConfig): Promise<ResolvedModel> {
  const bars = { download: progressBar('download', 'MB'), convert: progressBar('convert', 'MB') };
  try {
    return await resolveModel(config.model, {
      modelsDir: config.modelsDir,
      dtype: config.dtype,
      weights: config.weights,
      tokenizer: config.tokenizer,
      onProgress: (event) => bars[event.phase].update(Math.round(event.done / 1e6), Math.round(event.total / 1e6)),
    });
  } finally {
    bars.download.stop();
    bars.convert.stop();
  }
}

function logStartup(logger: Logger, resolved: ResolvedModel, service: GenerationService, origin: string): void {
  const { provider, unavailable } = service.status();
  const commit = resolved.source.commit === undefined ? '' : ` @ ${resolved.source.commit}`;
  logger.info(
    {
      model: { id: modelIdOf(resolved), reference: resolved.source.reference, kind: resolved.source.kind, commit: resolved.source.commit, export_dir: resolved.exportDir },
      provider,
      fallbacks: unavailable,
      address: origin,
    },
    `serving ${resolved.source.reference}${commit} (export ${resolved.exportDir}), listening on ${origin}; ${describeProviderChoice(provider, unavailable)}`,
  );
}
