/**
 * A /v1/generate-shaped request (the HTTP route and the WebSocket's generate message): how
 * its body becomes a service request, and how the result becomes the response (which the
 * WebSocket's done message shares).
 */
import type { GenerateRequest, GenerateResult, GenerationService, PreparedGeneration } from '../generation/index.js';
import type { GenerateBody, GenerateResponse } from './schemas.js';

/** The sampling fields /v1/generate and /v1/completions share, with their protocol names. */
type SamplingBody = Pick<GenerateBody, 'steps' | 'sampler' | 'seed' | 'temperature' | 'top_p' | 'top_k' | 'eta' | 't_on' | 't_off' | 'alpha_on' | 'add_special_tokens' | 'semi_ar'>;

/** Those fields as the service names them. */
export function samplingRequest(body: SamplingBody): GenerateRequest {
  return {
    steps: body.steps,
    sampler: body.sampler,
    seed: body.seed,
    temperature: body.temperature,
    topP: body.top_p,
    topK: body.top_k,
    eta: body.eta,
    tOn: body.t_on,
    tOff: body.t_off,
    alphaOn: body.alpha_on,
    addSpecialTokens: body.add_special_tokens,
    semiAr: body.semi_ar === undefined ? undefined : { strideLength: body.semi_ar.stride_length, numStrides: body.semi_ar.num_strides },
  };
}

export function generateRequest(body: GenerateBody): GenerateRequest {
  return { ...samplingRequest(body), prompt: body.prompt, suffix: body.suffix, length: body.length, numSamples: body.num_samples };
}

/** The field an over-long output is blamed on. */
export function outputParam(body: GenerateBody): string {
  return body.semi_ar === undefined ? 'length' : 'semi_ar';
}

export function generateResponse(id: string, model: string, service: GenerationService, prepared: PreparedGeneration, result: GenerateResult, stopAtEos: boolean): GenerateResponse {
  const span = { start: 0, end: prepared.layout.totalLength, cutAtEosFrom: stopAtEos ? prepared.generated.start : undefined };
  return {
    id,
    model,
    seed: result.seed,
    samples: result.samples.map((sample, index) => ({ index, text: service.text(sample.tokenIds, span).text, token_ids: sample.tokenIds, forward_passes: sample.forwardPasses })),
    stats: {
      steps: result.stats.steps,
      forward_passes: result.stats.forwardPasses,
      wall_ms: result.stats.wallMs,
      queued_ms: result.stats.queuedMs,
      prompt_tokens: prepared.promptTokens,
      output_tokens: result.samples.reduce((sum, sample) => sum + sample.tokenIds.length - prepared.fixedTokens, 0),
    },
  };
}
