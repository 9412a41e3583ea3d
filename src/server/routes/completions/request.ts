/**
 * OpenAI completions on a diffusion model: how a body becomes generation requests (the
 * service lays them out) and the options of its choices.
 */
import { samplingRequest } from '../../../api/index.js';
import { ErrorCodes, fieldError } from '../../../errors.js';
import type { GenerateRequest } from '../../../generation/index.js';
import type { ChoiceOptions } from './choice.js';
import type { CompletionBody } from './schemas.js';

export function choiceOptions(body: CompletionBody): ChoiceOptions {
  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return { stopAtEos: body.stop_at_eos, stop, logprobs: body.logprobs ?? undefined, echo: body.echo };
}

/** OpenAI parameters a diffusion sampler has no use for: accepted at their neutral values, never silently ignored otherwise. */
export function checkNeutralParameters(body: CompletionBody): void {
  const refuse = (param: string, accepted: string) => {
    throw fieldError(ErrorCodes.unsupportedParameter, param, `${param} is accepted only as ${accepted}: this server's samplers have no such control`);
  };
  if ((body.presence_penalty ?? 0) !== 0) refuse('presence_penalty', '0');
  if ((body.frequency_penalty ?? 0) !== 0) refuse('frequency_penalty', '0');
  if (body.best_of !== undefined && body.best_of !== 1 && body.best_of !== body.n) refuse('best_of', `1 or n (${body.n})`);
  if (body.logit_bias !== undefined && Object.keys(body.logit_bias).length > 0) refuse('logit_bias', '{}');
}

/** The prompts of a body, each as text or token ids. */
export function promptsOf(body: CompletionBody): (string | number[])[] {
  const { prompt } = body;
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === 'number') return [prompt as number[]];
  return prompt as (string | number[])[];
}

export function completionRequest(body: CompletionBody, prompt: readonly number[]): GenerateRequest {
  return { ...samplingRequest(body), prompt, newTokens: body.max_tokens, numSamples: body.n };
}
