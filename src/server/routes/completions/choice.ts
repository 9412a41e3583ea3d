/**
 * How a completion choice's text and logprobs come out of the output, at the end or while
 * streaming.
 *
 * A choice is the tokens generated after the prompt, up to max_tokens, ended at the first
 * end-of-text (stop_at_eos) and then just before the first stop sequence. With echo it starts
 * with the prompt. Logprobs of generated tokens are the model's log p_x0 at the step each
 * token was drawn, with that step's alternatives; logprobs of an echoed prompt are the
 * left-to-right conditionals (the `ar` estimator), alternatives from the same distributions.
 */
import type { GeneratedSample, GenerationService, PreparedGeneration, ScoredItem } from '../../../generation/index.js';
import { type StepEvent, applyStepEvent } from '../../../sampling/index.js';
import type { CompletionLogprobs, FinishReason } from './schemas.js';

/** What a choice needs of the service. */
export type ChoiceDecoder = Pick<GenerationService, 'model' | 'text' | 'decode' | 'pieces'>;

export interface ChoiceOptions {
  stopAtEos: boolean;
  stop: string[];
  /** How many alternatives to return per token; undefined: no logprobs at all. */
  logprobs: number | undefined;
  echo: boolean;
}

/** An echoed prompt: its ids and, when logprobs were asked for, their left-to-right log-probabilities. */
export interface EchoedPrompt {
  ids: number[];
  logprobs?: (number | null)[];
  top?: (Record<string, number> | null)[];
}

/**
 * The prompt's logprobs from its `ar` score: every prompt token is scored when the tokenizer
 * framed it with BOS; otherwise the first has nothing before it and is null, as in OpenAI's API.
 */
export function echoedPrompt(decoder: ChoiceDecoder, ids: number[], score: ScoredItem | undefined, k: number): EchoedPrompt {
  if (score === undefined) return { ids };
  const unscored = ids.length - score.tokenIds.length;
  const logprobs = [...new Array<null>(unscored).fill(null), ...Array.from(score.tokenNll, (nll) => -nll)];
  const alternatives = score.alternatives;
  const top = [
    ...new Array<null>(unscored).fill(null),
    ...score.tokenIds.map((_, i) => (alternatives === undefined ? {} : topDictionary(decoder, alternatives.tokens, alternatives.logprobs, alternatives.width, i, k))),
  ];
  return { ids, logprobs, top };
}

function topDictionary(decoder: ChoiceDecoder, tokens: ArrayLike<number>, logprobs: ArrayLike<number>, width: number, index: number, k: number): Record<string, number> {
  const ids = Array.from({ length: Math.min(k, width) }, (_, j) => tokens[index * width + j] as number);
  const { pieces } = decoder.pieces(ids);
  const dictionary: Record<string, number> = {};
  pieces.forEach((piece, j) => {
    // Two ids can decode alike (pieces of one character): the more likely, listed first, is kept.
    if (!(piece in dictionary)) dictionary[piece] = logprobs[index * width + j] as number;
  });
  return dictionary;
}

export interface ChoiceOutcome {
  text: string;
  finishReason: FinishReason;
  /** Generated tokens the choice holds (usage's completion_tokens). */
  tokens: number;
  logprobs: CompletionLogprobs | null;
}

/** The generated part of an output: its kept ids and text, cut at end-of-text, then at the first stop sequence. */
function generatedPart(decoder: ChoiceDecoder, output: readonly number[], prepared: PreparedGeneration | undefined, options: ChoiceOptions): { ids: number[]; text: string; finishReason: FinishReason } {
  if (prepared === undefined) return { ids: [], text: '', finishReason: 'length' };
  const { start, end } = prepared.generated;
  const decoded = decoder.text(output, { start, end, cutAtEosFrom: options.stopAtEos ? start : undefined });
  const ids = output.slice(start, start + decoded.tokens);
  const stopAt = firstStop(decoded.text, options.stop);
  if (stopAt === undefined) return { ids, text: decoded.text, finishReason: decoded.cut ? 'stop' : 'length' };
  // The token in which the stop sequence begins is the last one kept.
  const { offsets } = decoder.pieces(ids);
  return { ids: ids.filter((_, k) => (offsets[k] as number) < stopAt), text: decoded.text.slice(0, stopAt), finishReason: 'stop' };
}

/** Where the earliest of the stop sequences starts in `text`. */
export function firstStop(text: string, stop: readonly string[]): number | undefined {
  let first: number | undefined;
  for (const sequence of stop) {
    const at = text.indexOf(sequence);
    if (at !== -1 && (first === undefined || at < first)) first = at;
  }
  return first;
}

/** A finished choice: its text (after the echoed prompt), why it ended, and its logprobs when asked. */
export function finishedChoice(decoder: ChoiceDecoder, sample: GeneratedSample | undefined, prepared: PreparedGeneration | undefined, options: ChoiceOptions, echo: EchoedPrompt | undefined): ChoiceOutcome {
  const generated = generatedPart(decoder, sample?.tokenIds ?? [], prepared, options);
  const text = echo === undefined ? generated.text : echoText(decoder, echo.ids, generated);
  const logprobs = options.logprobs === undefined ? null : choiceLogprobs(decoder, sample, prepared, generated.ids, options.logprobs, echo);
  return { text, finishReason: generated.finishReason, tokens: generated.ids.length, logprobs };
}

/** The prompt's text and the generated text, decoded together (a tokenizer may join them with a separator). */
function echoText(decoder: ChoiceDecoder, promptIds: number[], generated: { ids: number[]; text: string }): string {
  const whole = decoder.decode([...promptIds, ...generated.ids]);
  const generatedWhole = decoder.decode(generated.ids);
  return whole.slice(0, whole.length - generatedWhole.length) + generated.text;
}

function choiceLogprobs(decoder: ChoiceDecoder, sample: GeneratedSample | undefined, prepared: PreparedGeneration | undefined, generatedIds: number[], k: number, echo: EchoedPrompt | undefined): CompletionLogprobs {
  const promptIds = echo?.ids ?? [];
  const { pieces, offsets } = decoder.pieces([...promptIds, ...generatedIds]);
  const start = prepared?.generated.start ?? 0;
  const generatedLogprobs = generatedIds.map((_, i) => sample?.logprobs[start + i] as number);
  const generatedTop = generatedIds.map((_, i) => (sample === undefined ? {} : topDictionary(decoder, sample.topTokens, sample.topLogprobs, sample.topWidth, start + i, k)));
  return {
    tokens: pieces,
    token_logprobs: [...(echo?.logprobs ?? promptIds.map(() => null)), ...generatedLogprobs],
    top_logprobs: [...(echo?.top ?? promptIds.map(() => null)), ...generatedTop],
    text_offset: offsets,
  };
}

/** One streamed chunk of a choice: new text, and the logprobs of the tokens it completes. */
export interface ChoiceChunk {
  text: string;
  logprobs: CompletionLogprobs | null;
}

/**
 * One choice while it streams. A chunk is only text that can no longer change: once a step is
 * settled (always, for samplers that never remask; from t_off on for remdm-loop; at the end
 * for the other ReMDM samplers) the longest unmasked run after the prompt is final, and is
 * sent as it grows, as deltas that only ever append. Held back until they are settled: a trailing U+FFFD (a
 * character whose bytes are not all unmasked yet) and a tail that could begin a stop
 * sequence. A token's logprobs go with the chunk that sends its last character.
 */
export class StreamedChoice {
  private output: number[];
  /** The model's log-probability and alternatives at each position when its token was drawn. */
  private readonly drawn = new Map<number, { logprob: number; top: StepEvent['top']; index: number }>();
  /** Output position just past the unmasked run after the prompt. */
  private runEnd: number;
  /** Output position past the last token whose logprobs were sent. */
  private tokensSent: number;
  private sent = '';
  private stopped = false;

  constructor(
    private readonly decoder: ChoiceDecoder,
    initialOutput: readonly number[],
    private readonly prepared: PreparedGeneration,
    private readonly options: ChoiceOptions,
  ) {
    this.output = [...initialOutput];
    this.runEnd = prepared.generated.start;
    this.tokensSent = prepared.generated.start;
  }

  /** Applies a step; returns the chunk that became final, if any. */
  apply(event: StepEvent): ChoiceChunk | undefined {
    const { maskId, eosId } = this.decoder.model;
    applyStepEvent(this.output, event, maskId);
    event.positions.forEach((position, k) => this.drawn.set(position, { logprob: event.logprobs[k] as number, top: event.top, index: k }));
    // A remasking sampler may still take unmasked tokens back: nothing is final text until it says so.
    if (this.stopped || !event.settled) return undefined;
    const before = this.runEnd;
    const isFinalText = (token: number) => token !== maskId && !(this.options.stopAtEos && token === eosId);
    while (this.runEnd < this.prepared.generated.end && isFinalText(this.output[this.runEnd] as number)) this.runEnd++;
    if (this.runEnd === before) return undefined;
    const text = this.decoder.text(this.output, { start: this.prepared.generated.start, end: this.runEnd }).text;
    const stopAt = firstStop(text, this.options.stop);
    if (stopAt !== undefined) this.stopped = true;
    return this.send(stopAt === undefined ? settledText(text, this.options.stop) : text.slice(0, stopAt));
  }

  /** The rest of the choice once the output is complete, and why it ended. */
  finish(sample: GeneratedSample): ChoiceOutcome & { delta: ChoiceChunk } {
    const final = finishedChoice(this.decoder, sample, this.prepared, { ...this.options, echo: false }, undefined);
    this.output = [...sample.tokenIds];
    const { start } = this.prepared.generated;
    for (let position = start; position < start + final.tokens; position++) {
      const width = sample.topWidth;
      this.drawn.set(position, { logprob: sample.logprobs[position] as number, top: { tokens: Array.from(sample.topTokens.subarray(position * width, (position + 1) * width)), logprobs: Array.from(sample.topLogprobs.subarray(position * width, (position + 1) * width)), width }, index: 0 });
    }
    this.runEnd = start + final.tokens;
    return { ...final, delta: this.send(final.text, this.runEnd) ?? { text: '', logprobs: this.logprobsOf(this.runEnd, this.runEnd) } };
  }

  /**
   * Sends what `text` adds to what was sent, with the logprobs of the tokens now complete
   * (all of them up to `tokensUpTo` when it is given). Decoding more tokens only appends, so
   * the new text extends what was sent.
   */
  private send(text: string, tokensUpTo?: number): ChoiceChunk | undefined {
    const previous = this.sent;
    const grew = text.startsWith(previous) && text.length > previous.length;
    if (grew) this.sent = text;
    const complete = tokensUpTo ?? this.completeTokens(this.sent.length);
    if (!grew && complete <= this.tokensSent) return undefined;
    const delta = grew ? text.slice(previous.length) : '';
    const logprobs = this.logprobsOf(this.tokensSent, complete);
    this.tokensSent = Math.max(this.tokensSent, complete);
    return { text: delta, logprobs };
  }

  /** The output position past the tokens of the run whose text ends within the first `length` characters. */
  private completeTokens(length: number): number {
    const { start } = this.prepared.generated;
    const { pieces, offsets } = this.decoder.pieces(this.output.slice(start, this.runEnd));
    let count = 0;
    while (count < pieces.length && (offsets[count] as number) + (pieces[count] as string).length <= length) count++;
    return start + count;
  }

  private logprobsOf(from: number, to: number): CompletionLogprobs | null {
    const k = this.options.logprobs;
    if (k === undefined) return null;
    const { start } = this.prepared.generated;
    const { pieces, offsets } = this.decoder.pieces(this.output.slice(start, Math.max(from, to)));
    const positions = Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
    return {
      tokens: positions.map((position) => pieces[position - start] as string),
      token_logprobs: positions.map((position) => this.drawn.get(position)?.logprob ?? null),
      top_logprobs: positions.map((position) => {
        const entry = this.drawn.get(position);
        return entry === undefined ? null : topDictionary(this.decoder, entry.top.tokens, entry.top.logprobs, entry.top.width, entry.index, k);
      }),
      text_offset: positions.map((position) => offsets[position - start] as number),
    };
  }
}

/** `text` without what is not settled yet: a trailing U+FFFD, and a tail that is the start of a stop sequence. */
function settledText(text: string, stop: readonly string[]): string {
  const whole = text.replace(/\uFFFD+$/, '');
  let hold = 0;
  for (const sequence of stop) {
    for (let length = Math.min(sequence.length - 1, whole.length); length > hold; length--) {
      if (whole.endsWith(sequence.slice(0, length))) {
        hold = length;
        break;
      }
    }
  }
  return whole.slice(0, whole.length - hold);
}
