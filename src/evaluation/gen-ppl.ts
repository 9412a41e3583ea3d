/**
 * Generative perplexity as the seed computes it (`compute_generative_perplexity`, spec §10),
 * as pure functions: the retokenisation, the padding and chunking, and which targets count.
 *
 * The seed right-pads every row with EOS to the longest row, splits each batch into
 * context-sized chunks, and per chunk takes the cross-entropy of logits[:, :-1] against
 * tokens[:, 1:] (each chunk starts afresh: its first token is never scored). A target counts
 * when it is not EOS, or when it is the first EOS of its chunk (cumsum(tokens == EOS) == 1,
 * the chunk's first token included). So padding never counts, except the first pad EOS of a
 * chunk that has no EOS before it; and since the padding goes to the longest row of all the
 * samples, whether a row gets that pad EOS depends on the other rows, exactly as in the seed.
 *
 * GPT-2 is causal, so the logits at position p depend on tokens ≤ p only: a chunk needs to run
 * only up to its last counted target's predecessor, and the padding that fills a pass to its
 * longest window changes nothing that is scored.
 */

/**
 * transformers' `clean_up_tokenization` (on by default in 4.38.2, the seed's version, for
 * GPT-2, whose tokenizer_config does not turn it off): the seed's `batch_decode` applied it
 * to every sample before retokenising.
 */
const CLEAN_UP_REPLACEMENTS: [string, string][] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

export function cleanUpTokenizationSpaces(text: string): string {
  return CLEAN_UP_REPLACEMENTS.reduce((out, [from, to]) => out.replaceAll(from, to), text);
}

/** Each text encoded by the evaluation model's tokenizer (here, or a server's), truncated to `maxLength` tokens. */
export async function retokenize(texts: readonly string[], encode: (text: string) => number[] | Promise<number[]>, maxLength: number): Promise<number[][]> {
  return Promise.all(texts.map(async (text) => (await encode(text)).slice(0, maxLength)));
}

/** The chunk positions p (0 ≤ p < length − 1) whose target, chunk[p + 1], counts. */
export function countedPositions(chunk: ArrayLike<number>, eosId: number): number[] {
  const positions: number[] = [];
  let eosSeen = chunk[0] === eosId;
  for (let p = 0; p + 1 < chunk.length; p++) {
    const target = chunk[p + 1];
    if (target !== eosId) positions.push(p);
    else if (!eosSeen) {
      positions.push(p);
      eosSeen = true;
    }
  }
  return positions;
}

/** One forward-pass row: a chunk's window and the targets scored in it. */
export interface ScoringWindow {
  /** The row (sample) the window belongs to. */
  row: number;
  /** The chunk's tokens up to its last scored position. */
  tokens: Int32Array;
  /** Window positions whose next token is scored, and those tokens. */
  positions: Int32Array;
  targets: Int32Array;
}

/**
 * The windows to run for `rows` (token ids, already truncated): every row padded with EOS to
 * the longest, cut into `context`-sized chunks; a chunk with no counted target is left out.
 */
export function scoringWindows(rows: readonly (readonly number[])[], options: { context: number; eosId: number }): ScoringWindow[] {
  const { context, eosId } = options;
  const longest = rows.reduce((max, row) => Math.max(max, row.length), 0);
  const windows: ScoringWindow[] = [];
  rows.forEach((row, r) => {
    for (let begin = 0; begin < longest; begin += context) {
      const chunk = Int32Array.from({ length: Math.min(context, longest - begin) }, (_, i) => row[begin + i] ?? eosId);
      const positions = countedPositions(chunk, eosId);
      const last = positions[positions.length - 1];
      if (last === undefined) continue;
      windows.push({ row: r, tokens: chunk.slice(0, last + 1), positions: Int32Array.from(positions), targets: Int32Array.from(positions, (p) => chunk[p + 1] as number) });
    }
  });
  return windows;
}

/** exp(Σ counted nll / Σ counted tokens). */
export function generativePerplexity(totalNll: number, counted: number): number {
  return Math.exp(totalNll / counted);
}

/** Shannon entropy (nats) of the empirical distribution of a sample's token ids: the repetition check ReMDM and BD3-LM report. */
export function unigramEntropy(ids: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / ids.length;
    entropy -= p * Math.log(p);
  }
  return entropy;
}
