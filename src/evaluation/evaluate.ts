import type { MdlmClient } from '../client/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { MdlmTokenizer } from '../tokenizer/index.js';
import { cleanUpTokenizationSpaces, generativePerplexity, retokenize, scoringWindows, unigramEntropy } from './gen-ppl.js';
import type { SampleRecord } from './samples-file.js';
import { type Shard, checkShards, inShard } from './shard.js';
import { type WindowScorer, planPasses } from './window-scorer.js';

export interface GenPplOptions {
  /** Retokenized samples are truncated to this many tokens; default: the longest token_ids among the samples (the MDLM length). */
  maxLength?: number;
  /** Rows per forward pass. */
  batchSize: number;
  /** Apply transformers' clean_up_tokenization to each text first, as the seed's batch_decode did. */
  cleanUpSpaces: boolean;
  /** Score only this shard's passes (pass p belongs to shard p mod count). */
  shard?: Shard;
  onProgress?: (done: number, total: number) => void;
}

export interface SampleScore {
  index: number;
  /** Tokens after retokenisation and truncation. */
  tokens: number;
  /** Targets counted, and their Σ nll (a shard: over its windows only). */
  counted: number;
  nll: number;
  /** Of the sample's token_ids, or of its retokenisation when the file gives text only. */
  unigramEntropy: number;
}

/** One scored window: which row (sample) it is of, its counted targets and their Σ nll. */
export interface WindowScore {
  index: number;
  row: number;
  counted: number;
  nll: number;
}

export interface GenPplReport {
  genPpl: number;
  nllPerToken: number;
  tokensCounted: number;
  maxLength: number;
  context: number;
  meanUnigramEntropy: number;
  samples: SampleScore[];
  /** A shard's report only: which shard, and its windows, which merging adds in the order one run does. */
  shard?: Shard;
  windows?: WindowScore[];
}

export interface RowScores {
  nll: Float64Array;
  counted: Int32Array;
}

/** Text to ids and back with the evaluation model's tokenizer, here or on a server. */
export interface TextCodec {
  encode(text: string): number[] | Promise<number[]>;
  decode(ids: readonly number[]): string | Promise<string>;
}

/** Each row's Σ nll and counted targets under the seed's rule (see gen-ppl.ts), over the shard's passes when given. */
export async function scoreRows(
  rows: readonly (readonly number[])[],
  scorer: WindowScorer,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
  shard?: Shard,
): Promise<RowScores & { windows: WindowScore[] }> {
  const windows = scoringWindows(rows, { context: scorer.context, eosId: scorer.eosId });
  const passes = planPasses(windows, batchSize).filter((_, pass) => inShard(pass, shard));
  const windowNll = await scorer.score(windows, passes, onProgress);
  const scored = passes
    .flat()
    .sort((a, b) => a - b)
    .map((k) => ({ index: k, row: windows[k]?.row as number, counted: windows[k]?.positions.length as number, nll: windowNll[k] as number }));
  return { ...rowTotals(rows.length, scored), windows: scored };
}

/** Rows' sums over their windows, added in window order. */
function rowTotals(rowCount: number, windows: readonly WindowScore[]): RowScores {
  const nll = new Float64Array(rowCount);
  const counted = new Int32Array(rowCount);
  for (const window of [...windows].sort((a, b) => a.index - b.index)) {
    nll[window.row] = (nll[window.row] as number) + window.nll;
    counted[window.row] = (counted[window.row] as number) + window.counted;
  }
  return { nll, counted };
}

/**
 * Spec §10 on a set of samples: each decoded text (the file's `text`, else its token_ids
 * decoded by the evaluation tokenizer) is retokenized, truncated at the MDLM length and
 * scored. Every sample counts: none is dropped to fill a batch. A shard retokenizes every
 * sample (the padding goes to the longest of all) and scores its passes only.
 */
export async function evaluateGenPpl(samples: readonly SampleRecord[], scorer: WindowScorer, codec: TextCodec, options: GenPplOptions): Promise<GenPplReport> {
  const maxLength = options.maxLength ?? samplesLength(samples);
  const texts = await Promise.all(
    samples.map(async (sample) => {
      const text = sample.text ?? (await codec.decode(sample.tokenIds ?? []));
      return options.cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
    }),
  );
  const rows = await retokenize(texts, (text) => codec.encode(text), maxLength);
  const { windows } = await scoreRows(rows, scorer, options.batchSize, options.onProgress, options.shard);
  const shape = samples.map((sample, r) => ({
    index: sample.index,
    tokens: (rows[r] as number[]).length,
    unigramEntropy: unigramEntropy(sample.tokenIds ?? (rows[r] as number[])),
  }));
  const report = assemble(shape, windows, { maxLength, context: scorer.context });
  return options.shard === undefined ? report : { ...report, shard: options.shard, windows };
}

type SampleShape = Pick<SampleScore, 'index' | 'tokens' | 'unigramEntropy'>;

/** The report of these windows: rows' sums in window order, the totals in sample order. */
function assemble(shape: readonly SampleShape[], windows: readonly WindowScore[], run: Pick<GenPplReport, 'maxLength' | 'context'>): GenPplReport {
  const { nll, counted } = rowTotals(shape.length, windows);
  const scores = shape.map((sample, r) => ({ ...sample, counted: counted[r] as number, nll: nll[r] as number }));
  const totalNll = scores.reduce((sum, score) => sum + score.nll, 0);
  const tokensCounted = scores.reduce((sum, score) => sum + score.counted, 0);
  if (tokensCounted === 0)
    throw new MdlmError(ErrorCodes.invalidSamples, 'no token of the samples counts toward the perplexity (empty samples, or a shard with nothing to score)');
  return {
    genPpl: generativePerplexity(totalNll, tokensCounted),
    nllPerToken: totalNll / tokensCounted,
    tokensCounted,
    ...run,
    meanUnigramEntropy: scores.reduce((sum, score) => sum + score.unigramEntropy, 0) / scores.length,
    samples: scores,
  };
}

/** The shards' reports as one run's: every shard once, the same samples and settings; their windows added in the order one run adds them. */
export function mergeGenPplReports(reports: readonly GenPplReport[], settings: readonly unknown[]): GenPplReport {
  const shape = (report: GenPplReport) => report.samples.map(({ index, tokens, unigramEntropy: entropy }) => [index, tokens, entropy]);
  checkShards(
    reports.map((report, i) => ({ shard: report.shard, settings: [settings[i], report.maxLength, report.context, shape(report)] })),
    'eval merge',
  );
  const [first] = reports as [GenPplReport];
  const windows = reports.flatMap((report) => report.windows ?? []);
  const indices = new Set(windows.map((window) => window.index));
  if (indices.size !== windows.length || windows.some((window) => window.index >= windows.length)) {
    throw new MdlmError(ErrorCodes.invalidShards, 'eval merge: the shards do not hold every window of the run exactly once');
  }
  return assemble(first.samples, windows, { maxLength: first.maxLength, context: first.context });
}

/** The evaluation model's tokenizer, shipped in its export. */
export async function evalTokenizer(exportDir: string, hasTokenizer: boolean): Promise<MdlmTokenizer> {
  if (!hasTokenizer)
    throw new MdlmError(
      ErrorCodes.tokenizerError,
      `${exportDir} has no tokenizer, which retokenizing the samples needs; export it with --tokenizer or load it by hub id`,
    );
  return MdlmTokenizer.fromFiles(exportDir);
}

/** A server's tokenizer, through /tokenize and /detokenize. */
export function serverCodec(client: MdlmClient): TextCodec {
  return { encode: (text) => client.tokenize(text), decode: (ids) => client.detokenize(ids) };
}

/** The MDLM length: the longest sample in tokens, read from token_ids. */
function samplesLength(samples: readonly SampleRecord[]): number {
  const lengths = samples.flatMap((sample) => (sample.tokenIds === undefined ? [] : [sample.tokenIds.length]));
  if (lengths.length === 0) {
    throw new MdlmError(ErrorCodes.invalidArgument, '--max-length is needed: the samples carry no token_ids to take the MDLM length from');
  }
  return lengths.reduce((max, length) => Math.max(max, length), 0);
}
