import { ErrorCodes, MdlmError } from '../errors.js';
import { MdlmTokenizer } from '../tokenizer/index.js';
import type { CausalScorer } from './causal-scorer.js';
import { cleanUpTokenizationSpaces, generativePerplexity, retokenize, scoringWindows, unigramEntropy } from './gen-ppl.js';
import type { SampleRecord } from './samples-file.js';

export interface GenPplOptions {
  /** Retokenized samples are truncated to this many tokens; default: the longest token_ids among the samples (the MDLM length). */
  maxLength?: number;
  /** Rows per forward pass. */
  batchSize: number;
  /** Apply transformers' clean_up_tokenization to each text first, as the seed's batch_decode did. */
  cleanUpSpaces: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SampleScore {
  index: number;
  /** Tokens after retokenisation and truncation. */
  tokens: number;
  counted: number;
  nll: number;
  /** Of the sample's token_ids, or of its retokenisation when the file gives text only. */
  unigramEntropy: number;
}

export interface GenPplReport {
  genPpl: number;
  nllPerToken: number;
  tokensCounted: number;
  maxLength: number;
  context: number;
  meanUnigramEntropy: number;
  samples: SampleScore[];
}

export interface RowScores {
  nll: Float64Array;
  counted: Int32Array;
}

/** Each row's Σ nll and counted targets under the seed's rule (see gen-ppl.ts). */
export async function scoreRows(rows: readonly (readonly number[])[], scorer: CausalScorer, batchSize: number, onProgress?: (done: number, total: number) => void): Promise<RowScores> {
  const windows = scoringWindows(rows, { context: scorer.context, eosId: scorer.eosId });
  const windowNll = await scorer.score(windows, batchSize, onProgress);
  const nll = new Float64Array(rows.length);
  const counted = new Int32Array(rows.length);
  windows.forEach((window, k) => {
    nll[window.row] = (nll[window.row] as number) + (windowNll[k] as number);
    counted[window.row] = (counted[window.row] as number) + window.positions.length;
  });
  return { nll, counted };
}

/**
 * Spec §10 on a set of samples: each decoded text (the file's `text`, else its token_ids
 * decoded by the evaluation tokenizer) is retokenized, truncated at the MDLM length and
 * scored. Every sample counts: none is dropped to fill a batch.
 */
export async function evaluateGenPpl(samples: readonly SampleRecord[], scorer: CausalScorer, tokenizer: MdlmTokenizer, options: GenPplOptions): Promise<GenPplReport> {
  const maxLength = options.maxLength ?? samplesLength(samples);
  const texts = samples.map((sample) => {
    const text = sample.text ?? tokenizer.decode(sample.tokenIds ?? []);
    return options.cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
  });
  const rows = retokenize(texts, (text) => tokenizer.encode(text), maxLength);
  const { nll, counted } = await scoreRows(rows, scorer, options.batchSize, options.onProgress);
  const scores = samples.map((sample, r) => ({
    index: sample.index,
    tokens: (rows[r] as number[]).length,
    counted: counted[r] as number,
    nll: nll[r] as number,
    unigramEntropy: unigramEntropy(sample.tokenIds ?? (rows[r] as number[])),
  }));
  const totalNll = scores.reduce((sum, score) => sum + score.nll, 0);
  const tokensCounted = scores.reduce((sum, score) => sum + score.counted, 0);
  if (tokensCounted === 0) throw new MdlmError(ErrorCodes.invalidSamples, 'no token of the samples counts toward the perplexity (empty samples?)');
  return {
    genPpl: generativePerplexity(totalNll, tokensCounted),
    nllPerToken: totalNll / tokensCounted,
    tokensCounted,
    maxLength,
    context: scorer.context,
    meanUnigramEntropy: scores.reduce((sum, score) => sum + score.unigramEntropy, 0) / scores.length,
    samples: scores,
  };
}

/** The evaluation model's tokenizer, shipped in its export. */
export async function evalTokenizer(exportDir: string, hasTokenizer: boolean): Promise<MdlmTokenizer> {
  if (!hasTokenizer) throw new MdlmError(ErrorCodes.tokenizerError, `${exportDir} has no tokenizer, which retokenizing the samples needs; export it with --tokenizer or load it by hub id`);
  return MdlmTokenizer.fromFiles(exportDir);
}

/** The MDLM length: the longest sample in tokens, read from token_ids. */
function samplesLength(samples: readonly SampleRecord[]): number {
  const lengths = samples.flatMap((sample) => (sample.tokenIds === undefined ? [] : [sample.tokenIds.length]));
  if (lengths.length === 0) {
    throw new MdlmError(ErrorCodes.invalidArgument, '--max-length is needed: the samples carry no token_ids to take the MDLM length from');
  }
  return lengths.reduce((max, length) => Math.max(max, length), 0);
}
