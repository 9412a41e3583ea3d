import { ErrorCodes, MdlmError } from '../errors.js';
import type { ModelFacts, SamplingParams } from './types.js';

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

export function canvasLayout(params: SamplingParams, facts: ModelFacts): CanvasLayout {
  const { length, semiAr, prefix, suffix } = params;
  if (!Number.isInteger(length) || length < 1 || length > facts.modelLength) {
    throw new MdlmError(ErrorCodes.invalidArgument, `length must be between 1 and the model's length ${facts.modelLength}, got ${length}`);
  }
  if (semiAr !== undefined && (semiAr.strideLength < 1 || semiAr.strideLength > length || semiAr.numStrides < 0)) {
    throw new MdlmError(ErrorCodes.invalidArgument, `semi_ar.stride_length must be between 1 and length ${length}, and num_strides at least 0`);
  }
  const stride = semiAr?.strideLength ?? 0;
  const rounds = 1 + (semiAr?.numStrides ?? 0);
  const totalLength = length + (rounds - 1) * stride;
  if (prefix.length + suffix.length >= totalLength) {
    const hint = semiAr === undefined ? '; use semi_ar to generate past the window' : '';
    throw new MdlmError(
      ErrorCodes.promptTooLong,
      `the prompt (${prefix.length} tokens) and suffix (${suffix.length} tokens) leave nothing to generate in an output of ${totalLength} tokens${hint}`,
      { details: { promptTokens: prefix.length, suffixTokens: suffix.length, outputTokens: totalLength } },
    );
  }
  return { totalLength, windowLength: length, rounds, stride };
}
