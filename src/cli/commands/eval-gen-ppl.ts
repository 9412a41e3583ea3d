import type { Command } from 'commander';
import { z } from 'zod';
import type { MdlmClient } from '../../client/index.js';
import {
  CausalScorer,
  type GenPplReport,
  ServerWindowScorer,
  type TextCodec,
  type WindowScorer,
  evalTokenizer,
  evaluateGenPpl,
  mergeGenPplReports,
  readSamplesFile,
  serverCodec,
} from '../../evaluation/index.js';
import { DEFAULT_EVAL_MODEL } from '../../hub/index.js';
import { DEVICES } from '../../runtime/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';
import { ServerFlags, addServerOptions, serverClient, shardOf } from '../server-options.js';
import { DTYPE_HELP, resolveWithProgress } from '../resolve-model.js';
import { WEIGHT_DTYPES } from '../../model/index.js';

/** The seed's eval.perplexity_batch_size. */
const DEFAULT_BATCH_SIZE = 8;

const GenPplFlags = ServerFlags.extend({
  evalModel: z.string().min(1),
  samples: z.string().min(1),
  batchSize: cliInt(1, 4096),
  maxLength: cliInt(1, 1_048_576).optional(),
  cleanUpSpaces: z.boolean(),
  device: z.enum(DEVICES),
  dtype: z.enum(WEIGHT_DTYPES),
  json: z.boolean().default(false),
  modelsDir: z.string().optional(),
});

/** What --server replaces: the evaluation model loaded here. */
const LOCAL_MODEL_FLAGS = ['evalModel', 'device', 'dtype', 'modelsDir'];

export function registerEvalGenPpl(group: Command): void {
  const command = group
    .command('gen-ppl')
    .description('Generative perplexity of samples under a causal LM (default GPT-2 large), computed as the seed computes it; also each sample\'s unigram entropy')
    .requiredOption('--samples <file>', 'the JSON printed by mdlm generate --json, or JSON Lines with text and/or token_ids per line')
    .option('--eval-model <ref>', 'GPT-2 model: hub id, checkpoint directory or exported model directory', DEFAULT_EVAL_MODEL)
    .option('--batch-size <n>', 'rows (one context-sized chunk of a sample each) per forward pass; every sample is scored', String(DEFAULT_BATCH_SIZE))
    .option('--max-length <n>', 'truncate each retokenized sample to this many tokens (default: the longest token_ids in the file, the MDLM length)')
    .option('--no-clean-up-spaces', "retokenize the text as it is, without transformers' clean_up_tokenization that the seed's decode applied")
    .option('--device <device>', `${DEVICES.join(', ')}`, 'auto')
    .option('--dtype <dtype>', DTYPE_HELP, 'fp32')
    .option('--json', 'print the result as JSON')
    .option('--models-dir <dir>', 'conversion cache directory (default: MDLM_MODELS_DIR or ./models)');
  addServerOptions(command, { sharded: true }).action(async (raw: Record<string, unknown>, self: Command) => {
    exitOnInterrupt(); // a conversion may be under way: its exit hook removes the partial export
    const flags = parseFlags(GenPplFlags, raw, self);
    const shard = shardOf(self);
    const client = serverClient(flags, self, LOCAL_MODEL_FLAGS);
    // The file is checked before a model is downloaded.
    const samples = await readSamplesFile(flags.samples);
    const opened = client === undefined ? await openLocal(flags) : await openServer(client, flags.concurrency);
    const bar = progressBar('scoring', 'chunks');
    try {
      const report = await evaluateGenPpl(samples, opened.scorer, opened.codec, {
        maxLength: flags.maxLength,
        batchSize: flags.batchSize,
        cleanUpSpaces: flags.cleanUpSpaces,
        shard,
        onProgress: (done, total) => bar.update(done, total),
      });
      bar.stop();
      const context = { evalModel: opened.name, provider: opened.scorer.provider, cleanUpSpaces: flags.cleanUpSpaces, batchSize: flags.batchSize };
      process.stdout.write(flags.json ? `${JSON.stringify(genPplJson(report, context))}\n` : genPplText(report, context));
    } finally {
      bar.stop();
      await opened.scorer.close();
    }
  });
}

interface OpenedScorer {
  scorer: WindowScorer;
  codec: TextCodec;
  name: string;
}

async function openLocal(flags: z.infer<typeof GenPplFlags>): Promise<OpenedScorer> {
  const resolved = await resolveWithProgress(flags.evalModel, flags, 'preparing evaluation model');
  const codec = await evalTokenizer(resolved.exportDir, resolved.manifest.tokenizer);
  return { scorer: await CausalScorer.open({ exportDir: resolved.exportDir, device: flags.device }), codec, name: flags.evalModel };
}

/** The server's model scores (it must be causal), and its tokenizer retokenizes. */
async function openServer(client: MdlmClient, concurrency: number): Promise<OpenedScorer> {
  const scorer = await ServerWindowScorer.open(client, concurrency);
  return { scorer, codec: serverCodec(client), name: `${(await client.model()).id} at ${client.url}` };
}

export interface RunContext {
  evalModel: string;
  provider: string;
  cleanUpSpaces: boolean;
  batchSize: number;
}

/** The report in the API's snake_case; a shard's also says which shard and its windows, for eval merge. */
export function genPplJson(report: GenPplReport, context: RunContext): GenPplJson {
  const shard = report.shard === undefined ? {} : { shard: report.shard, batch_size: context.batchSize, windows: report.windows };
  return {
    eval_model: context.evalModel,
    provider: context.provider,
    gen_ppl: report.genPpl,
    nll_per_token: report.nllPerToken,
    tokens_counted: report.tokensCounted,
    num_samples: report.samples.length,
    max_length: report.maxLength,
    context: report.context,
    clean_up_spaces: context.cleanUpSpaces,
    mean_unigram_entropy: report.meanUnigramEntropy,
    samples: report.samples.map((sample) => ({ index: sample.index, tokens: sample.tokens, tokens_counted: sample.counted, nll: sample.nll, unigram_entropy: sample.unigramEntropy })),
    ...shard,
  };
}

const count = z.number().int().min(0);

/** What `eval gen-ppl --json` prints, and what `eval merge` reads back. */
export const GenPplJsonSchema = z.object({
  eval_model: z.string(),
  provider: z.string(),
  gen_ppl: z.number(),
  nll_per_token: z.number(),
  tokens_counted: count,
  num_samples: count,
  max_length: count,
  context: count,
  clean_up_spaces: z.boolean(),
  mean_unigram_entropy: z.number(),
  samples: z.array(z.object({ index: count, tokens: count, tokens_counted: count, nll: z.number(), unigram_entropy: z.number() })),
  shard: z.object({ index: count, count: count.min(1) }).optional(),
  batch_size: count.optional(),
  windows: z.array(z.object({ index: count, row: count, counted: count, nll: z.number() })).optional(),
});
export type GenPplJson = z.infer<typeof GenPplJsonSchema>;

/** The shards' JSON as one run's report, and the context to print it with. */
export function mergeGenPplJson(shards: readonly GenPplJson[]): { report: GenPplReport; context: RunContext } {
  const reports = shards.map((json) => ({
    genPpl: json.gen_ppl,
    nllPerToken: json.nll_per_token,
    tokensCounted: json.tokens_counted,
    maxLength: json.max_length,
    context: json.context,
    meanUnigramEntropy: json.mean_unigram_entropy,
    samples: json.samples.map((sample) => ({ index: sample.index, tokens: sample.tokens, counted: sample.tokens_counted, nll: sample.nll, unigramEntropy: sample.unigram_entropy })),
    shard: json.shard,
    windows: json.windows,
  }));
  const merged = mergeGenPplReports(reports, shards.map((json) => [json.eval_model, json.clean_up_spaces, json.batch_size]));
  const [first] = shards as [GenPplJson];
  return { report: merged, context: { evalModel: first.eval_model, provider: first.provider, cleanUpSpaces: first.clean_up_spaces, batchSize: first.batch_size ?? 0 } };
}

export function genPplText(report: GenPplReport, context: RunContext): string {
  const shard = report.shard === undefined ? '' : `shard ${report.shard.index}/${report.shard.count}: `;
  const lines = [
    `${shard}gen PPL ${report.genPpl.toFixed(3)} under ${context.evalModel} (${report.samples.length} samples, ${report.tokensCounted} tokens counted, max length ${report.maxLength}, context ${report.context}, ${context.provider})`,
    `unigram entropy: mean ${report.meanUnigramEntropy.toFixed(3)} nats`,
    '',
    '| sample | tokens | counted | nll / token | unigram entropy |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...report.samples.map((sample) => `| ${sample.index} | ${sample.tokens} | ${sample.counted} | ${sample.counted === 0 ? '' : (sample.nll / sample.counted).toFixed(3)} | ${sample.unigramEntropy.toFixed(3)} |`),
  ];
  return `${lines.join('\n')}\n`;
}
