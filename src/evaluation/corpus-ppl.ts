/**
 * The seed's ppl_eval on a corpus (spec §7–§8), scored by a local model or by a server (the
 * same requests, so the same figures for the same seed), whole or one shard at a time; the
 * shards' reports merge into exactly the figures of one run.
 */
import { z } from 'zod';
import { type MdlmClient, mapConcurrently } from '../client/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { type ServingFamily, servingFamilyReportedAs } from '../families/index.js';
import type { GenerationService } from '../generation/index.js';
import { SCORE_METHODS, type ScoreMethod, wrapDocuments } from '../scoring/index.js';
import { type Shard, checkShards, inShard } from './shard.js';

/** One batch of rows scored together: its draws of t are stratified across its rows, as the seed's eval batch. */
export interface CorpusBatch {
  items: { input: number[]; context: number[] }[];
  mcSamples: number;
  seed: number;
  antithetic: boolean;
}

/** A corpus row is scored with the family's default method, after the leading context it needs. */
export interface CorpusScoring {
  method: ScoreMethod;
  leadingTokens: number;
}

function corpusScoring(family: ServingFamily): CorpusScoring {
  const { scoring } = family.serving;
  return { method: scoring.defaultMethod, leadingTokens: scoring.leadingContext?.tokens ?? 0 };
}

/** What scores a corpus: the model's window and framing tokens, its tokenizer, and each batch's nll per row. */
export interface CorpusBackend {
  modelLength: number;
  bosId: number | undefined;
  eosId: number | undefined;
  /** How the model's family scores a row: its method, and the tokens before the first scored one (the AR baseline: its BOS). */
  scoring: CorpusScoring;
  tokenize(documents: readonly string[]): Promise<number[][]>;
  scoreBatch(batch: CorpusBatch): Promise<{ nll: number; tokens: number }[]>;
}

export interface CorpusOptions {
  batchSize: number;
  mcSamples: number;
  seed: number;
  antithetic: boolean;
  shard?: Shard;
  /** Batches scored at once (a server's replicas share them). */
  concurrency: number;
  onProgress?: (rowsDone: number, rows: number) => void;
}

const count = z.number().int().min(0);
/** /tokenize requests in flight at once, one per document. */
const TOKENIZE_CONCURRENCY = 8;

/** A batch's share of the figures, kept in a shard's report so that merging adds them in the order one run does. */
const PplBatchSchema = z.object({ start: count, rows: count, tokens: count, nll: z.number() });
export type PplBatch = z.infer<typeof PplBatchSchema>;

/** What `eval ppl --json` prints, and what `eval merge` reads back. */
export const PplReportSchema = z.object({
  documents: count,
  rows: count,
  row_length: count,
  /** Tokens scored: every token of every row (the AR baseline: all but each row's first). */
  tokens: count,
  dropped_tokens: count,
  /** elbo: the NELBO (MDLM, SEDD); ar: an autoregressive model's exact log-likelihood. */
  method: z.enum(SCORE_METHODS),
  nll: z.number(),
  nll_per_token: z.number(),
  perplexity: z.number(),
  bits_per_token: z.number(),
  mc_samples: count,
  seed: count,
  wall_s: z.number(),
  tokens_per_s: z.number(),
  /** A shard's report only: which shard, what must agree between shards, and its batches. */
  shard: z.object({ index: count, count: count.min(1) }).optional(),
  batch_size: count.optional(),
  antithetic: z.boolean().optional(),
  corpus_rows: count.optional(),
  batches: z.array(PplBatchSchema).optional(),
});
export type PplReport = z.infer<typeof PplReportSchema>;

export async function corpusPerplexity(backend: CorpusBackend, documents: readonly string[], options: CorpusOptions): Promise<PplReport> {
  const { modelLength, bosId, eosId } = backend;
  if (bosId === undefined || eosId === undefined) {
    throw new MdlmError(
      ErrorCodes.tokenizerError,
      "eval ppl wraps documents between BOS and EOS as the seed does, and this model's tokenizer declares no bos_token or eos_token",
    );
  }
  const started = performance.now();
  const { rows, droppedTokens } = wrapDocuments(await backend.tokenize(documents), modelLength, bosId, eosId);
  if (rows.length === 0)
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `--data: the corpus has ${droppedTokens} tokens with their EOS, fewer than the ${modelLength - 2} that one row of ${modelLength} holds between BOS and EOS`,
    );
  // The seed's AR _loss (_maybe_sub_sample) feeds x[:-1] and scores x[1:]: every token of a row but its first BOS.
  const first = backend.scoring.leadingTokens;
  const starts = Array.from({ length: Math.ceil(rows.length / options.batchSize) }, (_, k) => k * options.batchSize).filter((_, k) =>
    inShard(k, options.shard),
  );
  const shardRows = starts.reduce((sum, start) => sum + Math.min(options.batchSize, rows.length - start), 0);
  let rowsDone = 0;
  const batches = await mapConcurrently(starts, options.concurrency, async (start): Promise<PplBatch> => {
    const batch = rows.slice(start, start + options.batchSize);
    const items = batch.map((row) => ({ input: Array.from(row.subarray(first)), context: Array.from(row.subarray(0, first)) }));
    const scored = await backend.scoreBatch({ items, mcSamples: options.mcSamples, seed: options.seed + start, antithetic: options.antithetic });
    rowsDone += batch.length;
    options.onProgress?.(rowsDone, shardRows);
    return { start, rows: batch.length, nll: scored.reduce((sum, item) => sum + item.nll, 0), tokens: scored.reduce((sum, item) => sum + item.tokens, 0) };
  });
  const corpus = {
    documents: documents.length,
    row_length: modelLength,
    dropped_tokens: droppedTokens,
    method: backend.scoring.method,
    mc_samples: options.mcSamples,
    seed: options.seed,
  };
  const report = figures(corpus, batches, (performance.now() - started) / 1000);
  if (options.shard === undefined) return report;
  return { ...report, shard: options.shard, batch_size: options.batchSize, antithetic: options.antithetic, corpus_rows: rows.length, batches };
}

type CorpusFacts = Pick<PplReport, 'documents' | 'row_length' | 'dropped_tokens' | 'method' | 'mc_samples' | 'seed'>;

/** The figures of these batches, added in the order of their rows: Σ nll / Σ tokens, as the seed's val/nll. */
function figures(corpus: CorpusFacts, batches: readonly PplBatch[], wallS: number): PplReport {
  const ordered = [...batches].sort((a, b) => a.start - b.start);
  const nll = ordered.reduce((sum, batch) => sum + batch.nll, 0);
  const tokens = ordered.reduce((sum, batch) => sum + batch.tokens, 0);
  const perToken = nll / tokens;
  return {
    ...corpus,
    rows: ordered.reduce((sum, batch) => sum + batch.rows, 0),
    tokens,
    nll,
    nll_per_token: perToken,
    perplexity: Math.exp(perToken),
    bits_per_token: perToken / Math.LN2,
    wall_s: wallS,
    tokens_per_s: tokens / wallS,
  };
}

/**
 * The shards' reports as one run's: every shard exactly once, with the same corpus and
 * settings; the batches added in the order of their rows. The shards ran side by side, so the
 * wall time is the longest shard's.
 */
export function mergePplReports(reports: readonly PplReport[]): PplReport {
  const settings = (report: PplReport) => [
    report.documents,
    report.row_length,
    report.dropped_tokens,
    report.method,
    report.mc_samples,
    report.seed,
    report.batch_size,
    report.antithetic,
    report.corpus_rows,
  ];
  checkShards(
    reports.map((report) => ({ shard: report.shard, settings: settings(report) })),
    'eval merge',
  );
  const [first] = reports as [PplReport];
  const batches = reports.flatMap((report) => report.batches ?? []);
  const rows = batches.reduce((sum, batch) => sum + batch.rows, 0);
  if (rows !== first.corpus_rows)
    throw new MdlmError(ErrorCodes.invalidShards, `eval merge: the shards' batches hold ${rows} rows, the corpus ${first.corpus_rows}`);
  const { documents, row_length, dropped_tokens, method, mc_samples, seed } = first;
  return figures({ documents, row_length, dropped_tokens, method, mc_samples, seed }, batches, Math.max(...reports.map((report) => report.wall_s)));
}

/** The corpus scored by a loaded model, one batch at a time. */
export function serviceBackend(service: GenerationService): CorpusBackend {
  return {
    modelLength: service.model.modelLength,
    bosId: service.model.bosId,
    eosId: service.model.eosId,
    scoring: corpusScoring(service.family),
    tokenize: async (documents) => documents.map((document) => service.tokenize(document, false)),
    scoreBatch: async (batch) => {
      const prepared = service.prepareScore({ ...batch, antitheticGroup: batch.items.length, addSpecialTokens: false });
      return (await service.score(prepared)).items.map((item) => ({ nll: item.nll, tokens: item.tokenIds.length }));
    },
  };
}

/** The corpus scored by a server: the same requests the local run makes, as /v1/score bodies. */
export async function serverBackend(client: MdlmClient, concurrency: number): Promise<CorpusBackend> {
  const model = await client.model();
  const { bosId, eosId } = await client.specialIds();
  return {
    modelLength: model.model_length,
    bosId,
    eosId,
    scoring: corpusScoring(servingFamilyReportedAs(model.parameterization)),
    // Tokenizing touches no model, so it never changes a figure: it runs wider than the scoring.
    tokenize: (documents) => mapConcurrently(documents, Math.max(concurrency, TOKENIZE_CONCURRENCY), (document) => client.tokenize(document)),
    scoreBatch: async (batch) => {
      const scored = await client.score({
        items: batch.items.map((item) => ({ token_ids: item.input, ...(item.context.length === 0 ? {} : { context: item.context }) })),
        mc_samples: batch.mcSamples,
        seed: batch.seed,
        antithetic: batch.antithetic,
        antithetic_group: batch.items.length,
        add_special_tokens: false,
      });
      return scored.items.map((item) => ({ nll: item.nll, tokens: item.tokens }));
    },
  };
}
