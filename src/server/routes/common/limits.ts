/**
 * The server's own limits, checked on a prepared request: what the service laid out is what
 * is measured, so no length is computed twice.
 */
import type { Limits } from '../../../api/index.js';
import { ErrorCodes, fieldError } from '../../../errors.js';
import type { GenerateRequest, GenerationService, PreparedGeneration } from '../../../generation/index.js';

/**
 * Prepares a request and checks it: prompt_too_long past --max-prompt-tokens, invalid_argument
 * naming `outputParam` past --max-output-tokens.
 */
export function prepareWithinLimits(service: GenerationService, request: GenerateRequest, limits: Limits, outputParam: string): PreparedGeneration {
  const prepared = service.prepare(request);
  const fixed = prepared.promptTokens + prepared.suffixTokens;
  if (fixed > limits.maxPromptTokens) {
    throw fieldError(ErrorCodes.promptTooLong, 'prompt', `the prompt and suffix are ${fixed} tokens; this server accepts at most ${limits.maxPromptTokens}`);
  }
  const outputTokens = prepared.layout.totalLength;
  if (outputTokens > limits.maxOutputTokens) {
    throw fieldError(ErrorCodes.invalidArgument, outputParam, `the output would be ${outputTokens} tokens; this server generates at most ${limits.maxOutputTokens} per sample`);
  }
  return prepared;
}
