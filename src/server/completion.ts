/**
 * OpenAI completions on a diffusion model: how a prompt and max_tokens become a generation
 * request, and how a choice's text comes out of the output, at the end or while streaming.
 */
import { ErrorCodes } from '../errors.js';
import type { EncodedInput, GenerateRequest } from '../generation/index.js';
import type { SemiArParams, StepEvent } from '../sampling/index.js';
import type { MdlmTokenizer } from '../tokenizer/index.js';
import { fieldError } from './errors.js';
import type { CompletionBody, FinishReason } from './schemas.js';

export interface CompletionPlan {
  request: GenerateRequest;
  promptTokens: number;
  /** Output position just past the choice: prompt tokens + max_tokens. */
  end: number;
  /** One sample's whole output, in tokens. */
  outputTokens: number;
}

/**
 * When prompt + max_tokens + suffix fits the model's length, the window is exactly that.
 * Otherwise generation is semi-autoregressive: windows of the model's length advancing by
 * half of it (or as semi_ar says), as many strides as it takes to cover; the choice is the
 * max_tokens after the prompt, and the suffix (if any) closes the whole output.
 */
export function planCompletion(body: CompletionBody, input: EncodedInput, modelLength: number): CompletionPlan {
  const promptTokens = input.prefix.length;
  const needed = promptTokens + body.max_tokens + input.suffix.length;
  const semiAr = body.semi_ar === undefined ? (needed <= modelLength ? undefined : coveringStrides(needed, modelLength)) : { strideLength: body.semi_ar.stride_length, numStrides: body.semi_ar.num_strides };
  const length = semiAr === undefined ? needed : modelLength;
  const outputTokens = length + (semiAr === undefined ? 0 : semiAr.numStrides * semiAr.strideLength);
  if (outputTokens < needed) {
    throw fieldError(ErrorCodes.invalidArgument, 'semi_ar', `semi_ar gives ${outputTokens} tokens of output, but the prompt, max_tokens and suffix need ${needed}`);
  }
  return {
    request: {
      input,
      length,
      steps: body.steps,
      sampler: body.sampler,
      numSamples: body.n,
      seed: body.seed,
      temperature: body.temperature,
      semiAr,
      stopAtEos: body.stop_at_eos,
    },
    promptTokens,
    end: promptTokens + body.max_tokens,
    outputTokens,
  };
}

function coveringStrides(needed: number, modelLength: number): SemiArParams {
  const strideLength = Math.max(1, Math.floor(modelLength / 2));
  return { strideLength, numStrides: Math.ceil((needed - modelLength) / strideLength) };
}

export interface ChoiceText {
  text: string;
  finishReason: FinishReason;
  /** Tokens the text holds. */
  tokens: number;
}

/** The choice in a finished output: the tokens after the prompt, up to max_tokens or the first end-of-text. */
export function choiceText(tokenizer: MdlmTokenizer, output: readonly number[], plan: CompletionPlan, stopAtEos: boolean): ChoiceText {
  const generated = output.slice(plan.promptTokens, plan.end);
  const eos = stopAtEos && tokenizer.eosId !== undefined ? generated.indexOf(tokenizer.eosId) : -1;
  const kept = eos === -1 ? generated : generated.slice(0, eos);
  return { text: tokenizer.decode(kept), finishReason: eos === -1 ? 'length' : 'stop', tokens: kept.length };
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
    private readonly tokenizer: MdlmTokenizer,
    initialOutput: readonly number[],
    private readonly plan: CompletionPlan,
    private readonly maskId: number,
    private readonly stopAtEos: boolean,
  ) {
    this.output = [...initialOutput];
    this.runEnd = plan.promptTokens;
  }

  /** Applies a step; returns the text that became final (possibly ''). */
  apply(event: StepEvent): string {
    event.positions.forEach((position, k) => {
      this.output[position] = event.tokens[k] as number;
    });
    const start = this.runEnd;
    while (this.runEnd < this.plan.end && this.isFinalText(this.output[this.runEnd] as number)) this.runEnd++;
    if (this.runEnd === start) return '';
    const text = this.tokenizer.decode(this.output.slice(this.plan.promptTokens, this.runEnd)).replace(/\uFFFD+$/, '');
    return this.advanceTo(text);
  }

  /** The rest of the text once the output is complete, and why the choice ended. */
  finish(output: readonly number[]): ChoiceText & { delta: string } {
    const final = choiceText(this.tokenizer, output, this.plan, this.stopAtEos);
    return { ...final, delta: this.advanceTo(final.text) };
  }

  private isFinalText(token: number): boolean {
    return token !== this.maskId && !(this.stopAtEos && token === this.tokenizer.eosId);
  }

  /** Decoding more tokens only appends to the text of fewer, so the new text extends what was sent. */
  private advanceTo(text: string): string {
    if (!text.startsWith(this.sent)) return '';
    const delta = text.slice(this.sent.length);
    this.sent = text;
    return delta;
  }
}
