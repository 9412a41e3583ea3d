import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { MdlmClient } from '../../client/index.js';
import {
  CausalScorer,
  SEED_SEMI_AR,
  SEED_TABLE_SCALES,
  type SampleGenerator,
  type SeedTablesResult,
  type SeedTablesScale,
  evalTokenizer,
  runSeedTables,
  serverGenerator,
  serviceGenerator,
  syntheticModels,
} from '../../evaluation/index.js';
import { GenerationService } from '../../generation/index.js';
import { DEFAULT_EVAL_MODEL, DEFAULT_MODEL } from '../../hub/index.js';
import { DEVICES, ProviderOptionsSchema } from '../../runtime/index.js';
import { DEFAULT_BATCH_ENTRIES } from '../../scheduler/index.js';
import type { MdlmTokenizer } from '../../tokenizer/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';
import { ServerFlags, addServerOptions, serverClient } from '../server-options.js';
import { type CliModelOptions, DTYPE_HELP, resolveWithProgress } from '../resolve-model.js';
import { WEIGHT_DTYPES } from '../../model/index.js';

const stepList = z
  .string()
  .transform((text) => text.split(',').map(Number))
  .pipe(z.array(z.number().int().min(1).max(1_000_000)).min(1));

const SeedTablesFlags = ServerFlags.extend({
  scale: z.enum(Object.keys(SEED_TABLE_SCALES) as [keyof typeof SEED_TABLE_SCALES]),
  model: z.string().min(1).optional(),
  seddModel: z.string().min(1).optional(),
  evalModel: z.string().min(1).optional(),
  samples: cliInt(1, 100_000).optional(),
  steps: stepList.optional(),
  length: cliInt(1, 131_072).optional(),
  sequences: cliInt(1, 100_000).optional(),
  semiArSteps: cliInt(1, 1_000_000).optional(),
  strideLength: cliInt(1, 131_072).optional(),
  numStrides: cliInt(0, 10_000).optional(),
  batchSize: cliInt(1, 4096),
  device: z.enum(DEVICES),
  dtype: z.enum(WEIGHT_DTYPES),
  json: z.boolean().default(false),
  modelsDir: z.string().optional(),
});
type SeedTablesFlags = z.infer<typeof SeedTablesFlags>;

/** What --server replaces: the models generated with here. */
const LOCAL_GENERATION_FLAGS = ['model', 'seddModel'];

export function registerBenchSeedTables(group: Command): void {
  const command = group
    .command('seed-tables')
    .description("Rerun the seed's two sampling tables here: (a) wall clock per sampler at batch size 1, (b) semi-autoregressive seconds per sequence and gen PPL; printed beside the published figures")
    .option('--scale <scale>', `full (the seed's settings, for GPUs) or small (minutes on a CPU; synthetic models unless --model is given)`, 'full')
    .option('--model <ref>', `MDLM model (default: ${DEFAULT_MODEL} at full scale, a synthetic one at small scale)`)
    .option('--sedd-model <ref>', "SEDD model for table (a)'s analytic row, as the seed ran it (a sedd .ckpt, or its export); without it that row runs the analytic predictor on the MDLM model")
    .option('--eval-model <ref>', `GPT-2 model for gen PPL (default: ${DEFAULT_EVAL_MODEL}, or a synthetic one with the synthetic MDLM)`)
    .option('--samples <n>', 'table (a): samples per sampler and step count (full: 64)')
    .option('--steps <list>', 'table (a): comma-separated step counts (full: 5000,10000)')
    .option('--length <n>', 'window length L of both tables (full: 1024)')
    .option('--sequences <n>', 'table (b): semi-autoregressive sequences (full: 200)')
    .option('--semi-ar-steps <n>', 'table (b): steps per round (full: 1000)')
    .option('--stride-length <n>', 'table (b): tokens emitted per round (full: 512)')
    .option('--num-strides <n>', 'table (b): rounds after the first (full: 2, i.e. 2048 tokens)')
    .option('--batch-size <n>', 'gen PPL rows per forward pass', '8')
    .option('--device <device>', `${DEVICES.join(', ')}`, 'auto')
    .option('--dtype <dtype>', DTYPE_HELP, 'fp32')
    .option('--json', 'print the result as JSON instead of markdown tables')
    .option('--models-dir <dir>', 'conversion cache directory (default: MDLM_MODELS_DIR or ./models)');
  addServerOptions(command, { sharded: false }).action(async (raw: Record<string, unknown>, self: Command) => {
    exitOnInterrupt();
    const flags = parseFlags(SeedTablesFlags, raw, self);
    const client = serverClient(flags, self, LOCAL_GENERATION_FLAGS);
    const scale = scaleOf(flags);
    const work = await mkdtemp(join(tmpdir(), 'mdlm-seed-tables-'));
    try {
      const models = client === undefined ? await localModels(flags, scale, work) : await serverModels(client, flags);
      const bars = new Map<string, ReturnType<typeof progressBar>>();
      const sedd = flags.seddModel === undefined ? undefined : (await resolveWithProgress(flags.seddModel, { dtype: flags.dtype, modelsDir: flags.modelsDir }, 'preparing SEDD model')).exportDir;
      const result = await runSeedTables({
        scale,
        evalBatchSize: flags.batchSize,
        concurrency: flags.concurrency,
        openGenerator: models.openGenerator,
        openSedd: sedd === undefined ? undefined : () => openGenerator(sedd, flags),
        openScorer: () => openScorer(models.gpt2, flags),
        onProgress: (label, done, total) => {
          const bar = bars.get(label) ?? progressBar(label, label === 'gen PPL' ? 'chunks' : 'samples');
          bars.set(label, bar);
          bar.update(done, total);
          if (done === total) bar.stop();
        },
      });
      const header = { scale: flags.scale, synthetic: models.synthetic, model: models.mdlmName, seddModel: flags.seddModel, evalModel: models.gpt2Name, device: flags.device, concurrency: flags.concurrency };
      const { scale: parameters, ...tables } = result;
      process.stdout.write(flags.json ? `${JSON.stringify({ ...header, parameters, ...tables })}\n` : seedTablesMarkdown(result, header));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

/** The named scale with each flag given replacing its parameter. */
function scaleOf(flags: SeedTablesFlags): SeedTablesScale {
  const base = SEED_TABLE_SCALES[flags.scale];
  return {
    wallClock: { samples: flags.samples ?? base.wallClock.samples, length: flags.length ?? base.wallClock.length, steps: flags.steps ?? [...base.wallClock.steps] },
    semiAr: {
      sequences: flags.sequences ?? base.semiAr.sequences,
      length: flags.length ?? base.semiAr.length,
      strideLength: flags.strideLength ?? base.semiAr.strideLength,
      numStrides: flags.numStrides ?? base.semiAr.numStrides,
      steps: flags.semiArSteps ?? base.semiAr.steps,
    },
  };
}

/** Where the samples come from, and the evaluation model that scores them. */
interface Models {
  openGenerator: () => Promise<SampleGenerator>;
  gpt2: string;
  mdlmName: string;
  gpt2Name: string;
  synthetic: boolean;
}

/** Synthetic models only as a pair (they share a vocabulary), at small scale when no --model is given. */
async function localModels(flags: SeedTablesFlags, scale: SeedTablesScale, work: string): Promise<Models> {
  const options: CliModelOptions = { dtype: flags.dtype, modelsDir: flags.modelsDir };
  if (flags.scale === 'small' && flags.model === undefined) {
    const synthetic = await syntheticModels(work, Math.max(scale.wallClock.length, scale.semiAr.length));
    const gpt2 = flags.evalModel === undefined ? synthetic.gpt2 : await evalModelDir(flags.evalModel, options);
    return { openGenerator: () => openGenerator(synthetic.mdlm, flags), gpt2, mdlmName: 'synthetic MDLM', gpt2Name: flags.evalModel ?? 'synthetic GPT-2', synthetic: true };
  }
  const mdlmName = flags.model ?? DEFAULT_MODEL;
  const gpt2Name = flags.evalModel ?? DEFAULT_EVAL_MODEL;
  const mdlm = (await resolveWithProgress(mdlmName, options)).exportDir;
  return { openGenerator: () => openGenerator(mdlm, flags), gpt2: await evalModelDir(gpt2Name, options), mdlmName, gpt2Name, synthetic: false };
}

/** The server's model generates; the evaluation model (--eval-model, else GPT-2 large) scores here. */
async function serverModels(client: MdlmClient, flags: SeedTablesFlags): Promise<Models> {
  const model = await client.model();
  const gpt2Name = flags.evalModel ?? DEFAULT_EVAL_MODEL;
  const gpt2 = await evalModelDir(gpt2Name, { dtype: flags.dtype, modelsDir: flags.modelsDir });
  return { openGenerator: async () => serverGenerator(client), gpt2, mdlmName: `${model.id} at ${client.url}`, gpt2Name, synthetic: false };
}

async function evalModelDir(reference: string, options: CliModelOptions): Promise<string> {
  return (await resolveWithProgress(reference, options, 'preparing evaluation model')).exportDir;
}

/** Samples at batch size 1 as the seed's tables, or --concurrency of them at once. */
async function openGenerator(exportDir: string, flags: SeedTablesFlags): Promise<SampleGenerator> {
  const service = await GenerationService.open({
    exportDir,
    device: flags.device,
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    scheduler: { maxBatch: flags.concurrency, maxBatchEntries: DEFAULT_BATCH_ENTRIES, maxQueue: flags.concurrency, batchWaitMs: 0 },
  });
  return serviceGenerator(service);
}

async function openScorer(exportDir: string, flags: SeedTablesFlags): Promise<{ scorer: CausalScorer; tokenizer: MdlmTokenizer }> {
  const scorer = await CausalScorer.open({ exportDir, device: flags.device });
  return { scorer, tokenizer: await evalTokenizer(exportDir, scorer.manifest.tokenizer) };
}

interface Header {
  scale: string;
  synthetic: boolean;
  model: string;
  seddModel: string | undefined;
  evalModel: string;
  device: string;
  /** Samples generated at once: 1 is the seed's protocol. */
  concurrency: number;
}

const seconds = (value: number) => value.toFixed(value < 10 ? 2 : 1);

export function seedTablesMarkdown(result: SeedTablesResult, header: Header): string {
  const { wallClock, semiAr } = result.scale;
  const notice = header.scale === 'full' ? '' : `\n\nReduced scale (${header.scale}): fewer samples and steps than the seed, so compare ratios, not seconds.${header.synthetic ? ' The models are synthetic (random weights): the gen PPL checks the pipeline, not the paper.' : ''}`;
  const lines = [
    `## The seed's tables on this machine (scale ${header.scale}; ${header.model}${header.seddModel === undefined ? '' : `, SEDD ${header.seddModel}`}, gen PPL under ${header.evalModel}, device ${header.device})${notice}`,
    '',
    `### (a) Wall clock: ${wallClock.samples} samples ${header.concurrency === 1 ? 'one at a time' : `${header.concurrency} at a time (seconds per sample: each one's own, under that load)`}, L = ${wallClock.length} (seed: 64 samples, batch size 1, L = 1024, one A5000)`,
    '',
    '| sampler | T | forward passes / sample | s / sample | total s | seed s / sample |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...result.wallClock.map((row) => `| ${row.model === 'SEDD' ? 'SEDD + ' : ''}${row.sampler} | ${row.steps} | ${row.meanForwardPasses.toFixed(1)} | ${seconds(row.secondsPerSample)} | ${seconds(row.totalSeconds)} | ${row.seed === undefined ? '' : `${row.seed.secondsPerSample} (T = ${row.seed.steps})`} |`),
    ...result.ratios.map((ratio) => `| ddpm ÷ ddpm_cache | ${ratio.steps} | | ${ratio.ours.toFixed(2)}× | | ${ratio.seed === undefined ? '' : `${ratio.seed.toFixed(2)}×`} |`),
    '',
    `### (b) Semi-autoregressive: ${result.semiAr.sequences} sequences of ${result.semiAr.tokensPerSequence} tokens (L = ${semiAr.length}, stride ${semiAr.strideLength}, ${semiAr.numStrides} strides, T = ${semiAr.steps} per round, ${SEED_SEMI_AR.sampler})`,
    '',
    '| | s / sequence | forward passes / sequence | gen PPL | tokens counted | mean unigram entropy (nats) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| here | ${seconds(result.semiAr.secondsPerSequence)} | ${result.semiAr.meanForwardPasses.toFixed(1)} | ${result.semiAr.genPpl.toFixed(2)} | ${result.semiAr.tokensCounted} | ${result.semiAr.meanUnigramEntropy.toFixed(3)} |`,
    `| seed (${result.semiAr.seed.sequences} × ${result.semiAr.seed.tokens} tokens, one RTX 3090) | ${result.semiAr.seed.secondsPerSequence} | | ${result.semiAr.seed.genPpl} | | |`,
  ];
  return `${lines.join('\n')}\n`;
}
