import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import type { GenerationService } from '../../generation/index.js';
import { wrapDocuments } from '../../scoring/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions, openModelService } from '../model-service.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';

const EvalPplFlags = ModelFlags.extend({
  data: z.string().min(1),
  mcSamples: cliInt(1, 100_000),
  seed: cliInt(0, Number.MAX_SAFE_INTEGER).default(1),
  batchSize: cliInt(1, 4096),
  antithetic: z.boolean(),
  json: z.boolean().default(false),
});

const JsonlLine = z.looseObject({ text: z.string() });

export function registerEvalPpl(group: Command): void {
  addModelOptions(group.command('ppl').description("The seed's ppl_eval on a corpus: documents wrapped into [BOS] + piece + [EOS] rows of the model's length, each scored by the NELBO (an autoregressive model: by its exact log-likelihood)"))
    .requiredOption('--data <file>', 'JSONL with a "text" field per line, or plain text with one document per line')
    .option('--mc-samples <n>', 'Monte Carlo draws of t per row (the seed: 1)', '1')
    .option('--seed <n>', 'random seed', '1')
    .option('--batch-size <n>', 'rows per batch; the draws of a batch are stratified together, as the seed does across its eval batch', '16')
    .option('--no-antithetic', 'draw t independently instead of stratified')
    .option('--json', 'print the result as JSON')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(EvalPplFlags, raw, command);
      const documents = await readDocuments(flags.data);
      const { service } = await openModelService(flags, { maxBatch: 16, maxQueue: flags.batchSize });
      try {
        const report = await evaluate(service, documents, flags);
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : textReport(report));
      } finally {
        await service.close();
      }
    });
}

/** JSONL when every non-empty line is an object with a text field; otherwise each non-empty line is a document. */
async function readDocuments(path: string): Promise<string[]> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    throw new MdlmError(ErrorCodes.invalidArgument, `--data: cannot read ${path} (${(error as Error).message})`);
  }
  const lines = content.split(/\r?\n/).filter((line) => line.trim() !== '');
  const parsed = lines.map((line) => {
    try {
      return JsonlLine.safeParse(JSON.parse(line));
    } catch {
      return undefined;
    }
  });
  const jsonl = parsed.length > 0 && parsed.every((line) => line?.success === true);
  const documents = jsonl ? parsed.map((line) => (line as { data: { text: string } }).data.text) : lines;
  if (documents.length === 0) throw new MdlmError(ErrorCodes.invalidArgument, `--data: ${path} holds no document`);
  return documents;
}

interface PplReport {
  documents: number;
  rows: number;
  row_length: number;
  /** Tokens scored: every token of every row (the AR baseline: all but each row's first). */
  tokens: number;
  dropped_tokens: number;
  /** elbo: the NELBO (MDLM, SEDD); ar: an autoregressive model's exact log-likelihood. */
  method: 'elbo' | 'ar';
  nll: number;
  nll_per_token: number;
  perplexity: number;
  bits_per_token: number;
  mc_samples: number;
  seed: number;
  wall_s: number;
  tokens_per_s: number;
}

async function evaluate(service: GenerationService, documents: string[], flags: z.infer<typeof EvalPplFlags>): Promise<PplReport> {
  const { modelLength, bosId, eosId } = service.model;
  if (bosId === undefined || eosId === undefined) {
    throw new MdlmError(ErrorCodes.tokenizerError, "eval ppl wraps documents between BOS and EOS as the seed does, and this model's tokenizer declares no bos_token or eos_token");
  }
  const started = performance.now();
  const { rows, droppedTokens } = wrapDocuments(documents.map((document) => service.tokenize(document, false)), modelLength, bosId, eosId);
  if (rows.length === 0) throw new MdlmError(ErrorCodes.invalidArgument, `--data: the corpus has ${droppedTokens} tokens with their EOS, fewer than the ${modelLength - 2} that one row of ${modelLength} holds between BOS and EOS`);
  // What the family needs before the first scored token: a causal model scores every token of a row but its first BOS.
  const first = service.family.serving.scoring.leadingContext?.tokens ?? 0;
  const bar = progressBar('scoring', 'rows');
  let nll = 0;
  let tokens = 0;
  let method: PplReport['method'] = 'elbo';
  try {
    for (let start = 0; start < rows.length; start += flags.batchSize) {
      const batch = rows.slice(start, start + flags.batchSize);
      const prepared = service.prepareScore({
        items: batch.map((row) => ({ input: Array.from(row.subarray(first)), context: Array.from(row.subarray(0, first)) })),
        mcSamples: flags.mcSamples,
        seed: flags.seed + start,
        antithetic: flags.antithetic,
        antitheticGroup: batch.length,
        addSpecialTokens: false,
      });
      const result = await service.score(prepared);
      method = prepared.method;
      nll += result.items.reduce((sum, item) => sum + item.nll, 0);
      tokens += result.items.reduce((sum, item) => sum + item.tokenIds.length, 0);
      bar.update(start + batch.length, rows.length);
    }
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const perToken = nll / tokens;
  return {
    documents: documents.length,
    rows: rows.length,
    row_length: modelLength,
    tokens,
    dropped_tokens: droppedTokens,
    method,
    nll,
    nll_per_token: perToken,
    perplexity: Math.exp(perToken),
    bits_per_token: perToken / Math.LN2,
    mc_samples: flags.mcSamples,
    seed: flags.seed,
    wall_s: seconds,
    tokens_per_s: tokens / seconds,
  };
}

function textReport(report: PplReport): string {
  const estimator = report.method === 'ar' ? 'exact left-to-right log-likelihood, every token of a row but its first' : `NELBO, ${report.mc_samples} draw${report.mc_samples === 1 ? '' : 's'} of t per row`;
  return [
    `${report.documents} documents → ${report.rows} rows of ${report.row_length} tokens (${report.dropped_tokens} tokens left over after the last full row, dropped as the seed does)`,
    `nll ${report.nll_per_token.toFixed(4)} nats/token (${estimator}), perplexity ${report.perplexity.toFixed(3)}, ${report.bits_per_token.toFixed(4)} bits/token`,
    `${report.tokens} tokens in ${report.wall_s.toFixed(1)} s: ${report.tokens_per_s.toFixed(0)} tokens/s`,
    '',
  ].join('\n');
}
