/**
 * The seed's OpenWebText-style wrapping (spec §7–§8, dataloader `wrap: True`): each document
 * tokenized without special tokens and followed by EOS, all of them concatenated, cut into
 * pieces of L − 2, and every row [BOS] + piece + [EOS]. The remainder that does not fill a
 * row is dropped, as the seed drops it.
 */
export interface WrappedCorpus {
  rows: Int32Array[];
  /** Tokens (documents' and their EOS) left over after the last full row. */
  droppedTokens: number;
}

export function wrapDocuments(documents: readonly (readonly number[])[], rowLength: number, bos: number, eos: number): WrappedCorpus {
  const pieceLength = rowLength - 2;
  const stream: number[] = [];
  for (const document of documents) stream.push(...document, eos);
  const rows: Int32Array[] = [];
  let offset = 0;
  for (; offset + pieceLength <= stream.length; offset += pieceLength) {
    const row = new Int32Array(rowLength);
    row[0] = bos;
    row.set(stream.slice(offset, offset + pieceLength), 1);
    row[rowLength - 1] = eos;
    rows.push(row);
  }
  return { rows, droppedTokens: stream.length - offset };
}
