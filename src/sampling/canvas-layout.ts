import { ErrorCodes, fieldError } from '../errors.js';

export interface SemiArParams {
  strideLength: number;
  numStrides: number;
}

/**
 * The whole output and how rounds cover it. Without semi-AR there is one round over
 * [0, L). With stride s and n strides (the seed's sample_subs_guidance), the output has
 * L + n·s tokens and round r denoises the window [r·s, r·s + L), whose first L − s tokens
 * were fixed by earlier rounds (or by the prompt).
 */
export interface CanvasLayout {
  totalLength: number;
  windowLength: number;
  rounds: number;
  stride: number;
}

/** What a request fixes, and how long it wants the output to be. */
export interface CanvasRequest {
  /** Tokens fixed at the start of the output (the prompt, after any framing token). */
  head: readonly number[];
  /** Tokens fixed at the end of the output (the suffix, before any framing token). */
  tail: readonly number[];
  /** Window length L; default the model's length. Ignored when `generate` is set and no semi_ar is given. */
  windowLength?: number;
  semiAr?: SemiArParams;
  /**
   * Tokens to generate between head and tail (an OpenAI completion's max_tokens). The window
   * is then exactly head + generate + tail when that fits the model; past it, generation
   * turns semi-autoregressive with a stride of half the model's length, as many strides as
   * it takes to cover.
   */
  generate?: number;
}

export function layoutCanvas(request: CanvasRequest, modelLength: number): CanvasLayout {
  const fixed = request.head.length + request.tail.length;
  if (request.generate !== undefined) return layoutForCount(request, request.generate, fixed, modelLength);
  const windowLength = request.windowLength ?? modelLength;
  if (!Number.isInteger(windowLength) || windowLength < 1 || windowLength > modelLength) {
    throw fieldError(ErrorCodes.invalidArgument, 'length', `length must be between 1 and the model's length ${modelLength}, got ${windowLength}`);
  }
  const layout = withStrides(windowLength, request.semiAr);
  if (fixed >= layout.totalLength) {
    const hint = request.semiAr === undefined ? '; use semi_ar to generate past the window' : '';
    throw fieldError(
      ErrorCodes.promptTooLong,
      'prompt',
      `the prompt (${request.head.length} tokens) and suffix (${request.tail.length} tokens) leave nothing to generate in an output of ${layout.totalLength} tokens${hint}`,
    );
  }
  return layout;
}

function layoutForCount(request: CanvasRequest, generate: number, fixed: number, modelLength: number): CanvasLayout {
  const needed = fixed + generate;
  if (request.semiAr === undefined) {
    if (needed <= modelLength) return withStrides(needed, undefined);
    const strideLength = Math.max(1, Math.floor(modelLength / 2));
    return withStrides(modelLength, { strideLength, numStrides: Math.ceil((needed - modelLength) / strideLength) });
  }
  const layout = withStrides(modelLength, request.semiAr);
  if (layout.totalLength < needed) {
    throw fieldError(ErrorCodes.invalidArgument, 'semi_ar', `semi_ar gives ${layout.totalLength} tokens of output, but the prompt, max_tokens and suffix need ${needed}`);
  }
  return layout;
}

function withStrides(windowLength: number, semiAr: SemiArParams | undefined): CanvasLayout {
  if (semiAr !== undefined && (semiAr.strideLength < 1 || semiAr.strideLength > windowLength || semiAr.numStrides < 0)) {
    throw fieldError(ErrorCodes.invalidArgument, 'semi_ar', `semi_ar.stride_length must be between 1 and the window length ${windowLength}, and num_strides at least 0`);
  }
  const stride = semiAr?.strideLength ?? 0;
  const rounds = 1 + (semiAr?.numStrides ?? 0);
  return { totalLength: windowLength + (rounds - 1) * stride, windowLength, rounds, stride };
}

/** The output as it starts: head, masks, tail. */
export function initialCanvas(layout: CanvasLayout, head: readonly number[], tail: readonly number[], maskId: number): Int32Array {
  const canvas = new Int32Array(layout.totalLength).fill(maskId);
  canvas.set(head, 0);
  canvas.set(tail, layout.totalLength - tail.length);
  return canvas;
}
