import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { type CorpusBackend, type PplReport, corpusPerplexity, serverBackend, serviceBackend } from '../../evaluation/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions, openModelService } from '../model-service.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';
import { ServerFlags, addServerOptions, serverClient, shardOf } from '../server-options.js';

const EvalPplFlags = ModelFlags.extend(ServerFlags.shape).extend({
  data: z.string().min(1),
  mcSamples: cliInt(1, 100_000),
  seed: cliInt(0, Number.MAX_SAFE_INTEGER).default(1),
  batchSize: cliInt(1, 4096),
  antithetic: z.boolean(),
  json: z.boolean().default(false),
});

const JsonlLine = z.looseObject({ text: z.string() });

export function registerEvalPpl(group: Command): void {
  const command = group
    .command('ppl')
    .description("The seed's ppl_eval on a corpus: documents wrapped into [BOS] + piece + [EOS] rows of the model's length, each scored by the NELBO (an autoregressive model: by its exact log-likelihood)");
  addServerOptions(addModelOptions(command), { sharded: true })
    .requiredOption('--data <file>', 'JSONL with a "text" field per line, or plain text with one document per line')
    .option('--mc-samples <n>', 'Monte Carlo draws of t per row (the seed: 1)', '1')
    .option('--seed <n>', 'random seed', '1')
    .option('--batch-size <n>', 'rows per batch; the draws of a batch are stratified together, as the seed does across its eval batch', '16')
    .option('--no-antithetic', 'draw t independently instead of stratified')
    .option('--json', 'print the result as JSON')
    .action(async (raw: Record<string, unknown>, self: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(EvalPplFlags, raw, self);
      const shard = shardOf(self);
      const documents = await readDocuments(flags.data);
      const opened = await openBackend(flags, self);
      const bar = progressBar('scoring', 'rows');
      try {
        const report = await corpusPerplexity(opened.backend, documents, { ...flags, shard, concurrency: opened.concurrency, onProgress: (done, total) => bar.update(done, total) });
        bar.stop();
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : textReport(report));
      } finally {
        bar.stop();
        await opened.close();
      }
    });
}

/** The server of --server, or the model loaded here (one batch at a time). */
async function openBackend(flags: z.infer<typeof EvalPplFlags>, command: Command): Promise<{ backend: CorpusBackend; concurrency: number; close: () => Promise<void> }> {
  const client = serverClient(flags, command, Object.keys(ModelFlags.shape));
  if (client !== undefined) return { backend: await serverBackend(client, flags.concurrency), concurrency: flags.concurrency, close: async () => undefined };
  const { service } = await openModelService(flags, { maxBatch: 16, maxQueue: flags.batchSize });
  return { backend: serviceBackend(service), concurrency: 1, close: () => service.close() };
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

export function textReport(report: PplReport): string {
  const estimator = report.method === 'ar' ? 'exact left-to-right log-likelihood, every token of a row but its first' : `NELBO, ${report.mc_samples} draw${report.mc_samples === 1 ? '' : 's'} of t per row`;
  const shard = report.shard === undefined ? '' : `shard ${report.shard.index}/${report.shard.count}: `;
  return [
    `${shard}${report.documents} documents → ${report.rows} rows of ${report.row_length} tokens (${report.dropped_tokens} tokens left over after the last full row, dropped as the seed does)`,
    `nll ${report.nll_per_token.toFixed(4)} nats/token (${estimator}), perplexity ${report.perplexity.toFixed(3)}, ${report.bits_per_token.toFixed(4)} bits/token`,
    `${report.tokens} tokens in ${report.wall_s.toFixed(1)} s: ${report.tokens_per_s.toFixed(0)} tokens/s`,
    '',
  ].join('\n');
}
