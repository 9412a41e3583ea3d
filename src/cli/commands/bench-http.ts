import { readFile, writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import {
  type BodyShape,
  MIX_KINDS,
  type MixFile,
  MixFileSchema,
  MixSpecSchema,
  failedRequests,
  mixFromFile,
  mixFromKinds,
  resultChartHtml,
  resultMarkdown,
  runHttpBench,
} from '../../benchmark/index.js';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { writeFileAtomically } from '../../util/atomic.js';
import { cliInt, cliNumber, envVarOf, parseFlags } from '../options.js';

const DEFAULTS = { mix: 'generate', concurrency: [1, 4, 16], durationS: 10, warmupS: 2, rateConnections: 64, timeoutS: 120 } as const;

const countList = (max: number) =>
  z
    .string()
    .transform((text) => text.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(max)).min(1));

const BenchHttpFlags = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    apiKey: z.string().min(1).optional(),
    mix: MixSpecSchema.optional(),
    mixFile: z.string().min(1).optional(),
    concurrency: countList(100_000).optional(),
    rate: countList(1_000_000).optional(),
    connections: cliInt(1, 100_000).optional(),
    duration: cliNumber(0.1, 86_400).optional(),
    requests: cliInt(1, 100_000_000).optional(),
    warmup: cliNumber(0, 3600),
    seed: cliInt(0, Number.MAX_SAFE_INTEGER),
    prompt: z.string().optional(),
    length: cliInt(1, 131_072).optional(),
    steps: cliInt(1, 1_000_000).optional(),
    maxTokens: cliInt(1, 131_072).optional(),
    timeout: cliNumber(0.1, 86_400),
    maxErrorRate: cliNumber(0, 1),
    json: z.boolean().default(false),
    chart: z.string().min(1).optional(),
  })
  .superRefine((flags, ctx) => {
    const exclusive = (a: keyof typeof flags, b: keyof typeof flags, why: string) => {
      if (flags[a] !== undefined && flags[b] !== undefined) ctx.addIssue({ code: 'custom', path: [b], message: why });
    };
    exclusive('mix', 'mixFile', 'give --mix or --mix-file, not both');
    exclusive('concurrency', 'rate', 'sweep over --concurrency or over --rate, not both');
    exclusive('duration', 'requests', 'give each level a --duration or a number of --requests, not both');
    for (const shape of ['prompt', 'length', 'steps', 'maxTokens'] as const)
      exclusive('mixFile', shape, 'shapes the default bodies of --mix kinds; a --mix-file gives its bodies whole');
    if (flags.connections !== undefined && flags.rate === undefined)
      ctx.addIssue({ code: 'custom', path: ['connections'], message: 'bounds a --rate sweep; a --concurrency sweep sets the connections itself' });
  });
type BenchHttpFlags = z.infer<typeof BenchHttpFlags>;

export function registerBenchHttp(group: Command): void {
  group
    .command('http')
    .description(
      'Load a running mdlm-serve (autocannon, and its own SSE and WebSocket clients) at several concurrencies or rates: ' +
        "throughput, latency, errors, the diffusion figures and the server's /metrics",
    )
    .requiredOption('--url <url>', 'the server, e.g. http://127.0.0.1:8000')
    .addOption(new Option('--api-key <key>', 'the key the server was started with').env(envVarOf('api-key')))
    .option(
      '--mix <kinds>',
      `what to send, as kind=weight pairs: ${MIX_KINDS.join(', ')} (sse: streamed completions; ws: /v1/stream); ` +
        `weights split each level between them (default ${DEFAULTS.mix})`,
    )
    .option('--mix-file <file>', 'the mix as JSON: [{"endpoint": "/v1/generate", "body": {...}, "weight": 1, "name": "..."}, ...]')
    .option('--concurrency <list>', `comma-separated concurrency levels: requests kept in flight (default ${DEFAULTS.concurrency.join(',')})`)
    .option('--rate <list>', 'comma-separated rate levels in requests/s, instead of --concurrency')
    .option('--connections <n>', `with --rate: most requests in flight (default ${DEFAULTS.rateConnections})`)
    .option('--duration <s>', `seconds measured per level (default ${DEFAULTS.durationS})`)
    .option('--requests <n>', 'requests measured per level, instead of --duration (the same command then gives the same token counts)')
    .option('--warmup <s>', 'seconds of unmeasured load before each level', String(DEFAULTS.warmupS))
    .option('--seed <n>', "base of the requests' seeds: each request gets the next seed of its entry's seeded stream", '0')
    .option('--prompt <text>', 'prompt of the default requests (default: none; the score kind scores it)')
    .option('--length <n>', "window of the default requests (default: 32 or the model's length if shorter)")
    .option('--steps <n>', 'denoising steps of the default requests (default 32)')
    .option('--max-tokens <n>', 'max_tokens of the default completions (default 16)')
    .option('--timeout <s>', 'seconds a request may take before it counts as a timeout', String(DEFAULTS.timeoutS))
    .option('--max-error-rate <x>', 'share of failed requests a level may have before the command fails (exit 1)', '0')
    .option('--json', 'print the result as JSON instead of markdown tables')
    .option('--chart <file>', 'also write a self-contained HTML page with a chart of latency against throughput')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const flags = parseFlags(BenchHttpFlags, raw, command);
      const file = flags.mixFile === undefined ? undefined : await readMixFile(flags.mixFile);
      const shape: BodyShape = { prompt: flags.prompt, length: flags.length, steps: flags.steps, maxTokens: flags.maxTokens };
      const kinds = flags.mix ?? MixSpecSchema.parse(DEFAULTS.mix);
      const { result, stopped } = await runHttpBench({
        url: flags.url,
        apiKey: flags.apiKey,
        mix: (model) => (file === undefined ? mixFromKinds(kinds, model, shape) : mixFromFile(file, model)),
        sweep: flags.rate === undefined ? 'concurrency' : 'rate',
        levels: flags.rate ?? flags.concurrency ?? DEFAULTS.concurrency,
        durationS: flags.duration ?? DEFAULTS.durationS,
        requests: flags.requests,
        warmupS: flags.warmup,
        seed: flags.seed,
        timeoutS: flags.timeout,
        rateConnections: flags.connections ?? DEFAULTS.rateConnections,
        onLevel: (label) => process.stderr.write(`${label}: ${levelPlan(flags)}\n`),
      });
      if (result.levels.length > 0) {
        const tables = resultMarkdown(result);
        process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : tables);
        if (flags.chart !== undefined) await writeFileAtomically(flags.chart, (temp) => writeFile(temp, resultChartHtml(result, tables)));
      }
      if (stopped !== undefined) throw stopped;
      const failure = failedRequests(result, flags.maxErrorRate);
      if (failure !== undefined) throw failure;
    });
}

function levelPlan(flags: BenchHttpFlags): string {
  const measured = flags.requests === undefined ? `${flags.duration ?? DEFAULTS.durationS} s` : `${flags.requests} requests`;
  return flags.warmup > 0 ? `${flags.warmup} s of warm-up, then ${measured} measured` : `${measured} measured`;
}

/** The mix file, checked whole before the server is contacted: each problem names its entry. */
async function readMixFile(path: string): Promise<MixFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MdlmError(ErrorCodes.invalidArgument, `--mix-file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MdlmError(ErrorCodes.invalidArgument, `--mix-file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = MixFileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const [entry, ...field] = issue.path;
    const where = typeof entry === 'number' ? `entry ${entry + 1}${field.length === 0 ? '' : ` ${field.join('.')}`}` : 'the mix';
    return `${where}: ${issue.message}`;
  });
  throw new MdlmError(ErrorCodes.invalidArgument, `--mix-file ${path}: ${problems.join('; ')}`, { details: parsed.error.issues });
}
