import type { MdlmTokenizer } from '../tokenizer/index.js';

/** Which part of an output to turn into text. */
export interface TextSpan {
  /** First position of the text. */
  start: number;
  /** Position just past its last. */
  end: number;
  /** Cut at the first end-of-text token at or after this position (undefined: no cut). */
  cutAtEosFrom?: number;
}

export interface SpanText {
  text: string;
  /** Tokens the text holds. */
  tokens: number;
  /** Whether an end-of-text token cut it short. */
  cut: boolean;
}

/** The text of a span of an output, decoded once, cut at the first end-of-text token when asked. */
export function spanText(tokenizer: MdlmTokenizer, tokenIds: readonly number[], span: TextSpan): SpanText {
  const end = eosCut(tokenizer, tokenIds, span) ?? span.end;
  const kept = tokenIds.slice(span.start, end);
  return { text: tokenizer.decode(kept), tokens: kept.length, cut: end !== span.end };
}

/** The position of the first end-of-text token the span is cut at, if any. */
export function eosCut(tokenizer: MdlmTokenizer, tokenIds: readonly number[], span: TextSpan): number | undefined {
  const eos = tokenizer.eosId;
  if (span.cutAtEosFrom === undefined || eos === undefined) return undefined;
  const index = tokenIds.indexOf(eos, span.cutAtEosFrom);
  return index === -1 || index >= span.end ? undefined : index;
}
