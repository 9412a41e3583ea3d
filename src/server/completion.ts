/**
 * OpenAI completions on a diffusion model: how a prompt and max_tokens become a generation
 * request (the service lays it out), and how a choice's text comes out of the output, at the
 * end or while streaming.
 */
import type { GenerateRequest, GenerationService, PreparedGeneration, TextSpan } from '../generation/index.js';
import { type StepEvent, applyStepEvent } from '../sampling/index.js';
import type { CompletionBody, FinishReason } from './schemas.js';

export function completionRequest(body: CompletionBody, prompt: string): GenerateRequest {
  return {
    prompt,
    suffix: body.suffix,
    newTokens: body.max_tokens,
    steps: body.steps,
    sampler: body.sampler,
    numSamples: body.n,
    seed: body.seed,
    temperature: body.temperature,
    semiAr: body.semi_ar === undefined ? undefined : { strideLength: body.semi_ar.stride_length, numStrides: body.semi_ar.num_strides },
  };
}

/** What a choice needs of the service: the mask and end-of-text ids, and decoding a span of an output. */
export type ChoiceDecoder = Pick<GenerationService, 'model' | 'text'>;

export interface ChoiceText {
  text: string;
  finishReason: FinishReason;
  /** Tokens the text holds. */
  tokens: number;
}

/** The part of the output a choice is: the generated tokens after the prompt, up to max_tokens. */
function choiceSpan(prepared: PreparedGeneration, stopAtEos: boolean): TextSpan {
  const { start, end } = prepared.generated;
  return { start, end, cutAtEosFrom: stopAtEos ? start : undefined };
}

/** The choice in a finished output, ended at the first end-of-text when stop_at_eos is set. */
export function choiceText(service: ChoiceDecoder, output: readonly number[], prepared: PreparedGeneration, stopAtEos: boolean): ChoiceText {
  const { text, tokens, cut } = service.text(output, choiceSpan(prepared, stopAtEos));
  return { text, tokens, finishReason: cut ? 'stop' : 'length' };
}

/**
 * One choice while it streams. MDLM never changes a token once unmasked, so the longest
 * run of unmasked tokens after the prompt is final text: it is sent as it grows, as deltas
 * that only ever append. A trailing U+FFFD (a character whose bytes are not all unmasked
 * yet) is held back until the rest of it arrives.
 */
export class StreamedChoice {
  private readonly output: number[];
  /** Output position just past the unmasked run after the prompt. */
  private runEnd: number;
  private sent = '';

  constructor(
    private readonly service: ChoiceDecoder,
    initialOutput: readonly number[],
    private readonly prepared: PreparedGeneration,
    private readonly stopAtEos: boolean,
  ) {
    this.output = [...initialOutput];
    this.runEnd = prepared.generated.start;
  }

  /** Applies a step; returns the text that became final (possibly ''). */
  apply(event: StepEvent): string {
    const { maskId, eosId } = this.service.model;
    applyStepEvent(this.output, event, maskId);
    const start = this.runEnd;
    const { end } = this.prepared.generated;
    const isFinalText = (token: number) => token !== maskId && !(this.stopAtEos && token === eosId);
    while (this.runEnd < end && isFinalText(this.output[this.runEnd] as number)) this.runEnd++;
    if (this.runEnd === start) return '';
    const text = this.service.text(this.output, { start: this.prepared.generated.start, end: this.runEnd }).text.replace(/\uFFFD+$/, '');
    return this.advanceTo(text);
  }

  /** The rest of the text once the output is complete, and why the choice ended. */
  finish(output: readonly number[]): ChoiceText & { delta: string } {
    const final = choiceText(this.service, output, this.prepared, this.stopAtEos);
    return { ...final, delta: this.advanceTo(final.text) };
  }

  /** Decoding more tokens only appends to the text of fewer, so the new text extends what was sent. */
  private advanceTo(text: string): string {
    if (!text.startsWith(this.sent)) return '';
    const delta = text.slice(this.sent.length);
    this.sent = text;
    return delta;
  }
}
