import type { Command } from 'commander';
import { z } from 'zod';
import { CausalScorer, type GenPplReport, evalTokenizer, evaluateGenPpl, readSamplesFile } from '../../evaluation/index.js';
import { DEFAULT_EVAL_MODEL } from '../../hub/index.js';
import { DEVICES } from '../../runtime/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';
import { DTYPE_HELP, resolveWithProgress } from '../resolve-model.js';
import { WEIGHT_DTYPES } from '../../model/index.js';

/** The seed's eval.perplexity_batch_size. */
const DEFAULT_BATCH_SIZE = 8;

const GenPplFlags = z.object({
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

export function registerEvalGenPpl(group: Command): void {
  group
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
    .option('--models-dir <dir>', 'conversion cache directory (default: MDLM_MODELS_DIR or ./models)')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt(); // a conversion may be under way: its exit hook removes the partial export
      const flags = parseFlags(GenPplFlags, raw, command);
      // The file is checked before a model is downloaded.
      const samples = await readSamplesFile(flags.samples);
      const resolved = await resolveWithProgress(flags.evalModel, flags, 'preparing evaluation model');
      const tokenizer = await evalTokenizer(resolved.exportDir, resolved.manifest.tokenizer);
      const scorer = await CausalScorer.open({ exportDir: resolved.exportDir, device: flags.device });
      const bar = progressBar('scoring', 'chunks');
      try {
        const report = await evaluateGenPpl(samples, scorer, tokenizer, {
          maxLength: flags.maxLength,
          batchSize: flags.batchSize,
          cleanUpSpaces: flags.cleanUpSpaces,
          onProgress: (done, total) => bar.update(done, total),
        });
        bar.stop();
        const context = { evalModel: flags.evalModel, provider: scorer.provider, cleanUpSpaces: flags.cleanUpSpaces };
        process.stdout.write(flags.json ? `${JSON.stringify(genPplJson(report, context))}\n` : genPplText(report, context));
      } finally {
        bar.stop();
        await scorer.close();
      }
    });
}

interface RunContext {
  evalModel: string;
  provider: string;
  cleanUpSpaces: boolean;
}

/** The report in the API's snake_case. */
export function genPplJson(report: GenPplReport, context: RunContext): Record<string, unknown> {
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
  };
}

function genPplText(report: GenPplReport, context: RunContext): string {
  const lines = [
    `gen PPL ${report.genPpl.toFixed(3)} under ${context.evalModel} (${report.samples.length} samples, ${report.tokensCounted} tokens counted, max length ${report.maxLength}, context ${report.context}, ${context.provider})`,
    `unigram entropy: mean ${report.meanUnigramEntropy.toFixed(3)} nats`,
    '',
    '| sample | tokens | counted | nll / token | unigram entropy |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...report.samples.map((sample) => `| ${sample.index} | ${sample.tokens} | ${sample.counted} | ${sample.counted === 0 ? '' : (sample.nll / sample.counted).toFixed(3)} | ${sample.unigramEntropy.toFixed(3)} |`),
  ];
  return `${lines.join('\n')}\n`;
}
