/**
 * A /v1/generate-shaped request (the HTTP route, the WebSocket's generate message and
 * `mdlm generate`): its fields, how they become a service request, and how the result
 * becomes the response (which the WebSocket's done message and `mdlm generate --json` share).
 */
import { z } from 'zod';
import { GENERATION_DEFAULTS, type GenerateRequest, type GenerateResult, type GenerationService, type PreparedGeneration } from '../generation/index.js';
import { count } from './fields.js';
import { type HttpBody, type Param, type RequestBounds, httpShape, requestOf } from './params.js';
import { SAMPLING_PARAMS, samplingFields } from './sampling-params.js';

/** What a generate request adds to the sampling parameters. */
export const GENERATE_PARAMS = {
  prompt: {
    field: () => z.string().optional().describe('Text fixed at the start of the output.'),
    flag: { value: '<text>', help: 'text the output starts with (fixed from the first step)' },
  },
  length: {
    field: (bounds) =>
      count(1)
        .max(bounds.modelLength)
        .optional()
        .describe(`Window length in tokens (default and maximum: the model's length, ${bounds.modelLength}).`),
    flag: { value: '<n>', help: "window length L (default: the model's length)" },
  },
  numSamples: {
    field: (bounds) => count(1).max(bounds.limits.maxNumSamples).optional().describe(`Independent samples (default ${GENERATION_DEFAULTS.numSamples}).`),
    flag: { value: '<n>', help: 'independent samples (batched together)', default: String(GENERATION_DEFAULTS.numSamples) },
  },
} satisfies { [Name in keyof GenerateRequest]?: Param };

/** What shapes the response rather than the generation. */
export const RESPONSE_PARAMS = {
  stopAtEos: {
    field: () => z.boolean().optional().describe("Cut each sample's text at the first end-of-text token after the prompt (default false)."),
    flag: { help: 'cut each sample at the first end-of-text token after the prompt' },
  },
} satisfies Record<string, Param>;

/** The fields of a generate request, in the order the API documents them. */
export function generateFields(bounds: RequestBounds) {
  return { ...httpShape(GENERATE_PARAMS, bounds), ...httpShape(RESPONSE_PARAMS, bounds), ...samplingFields(bounds) };
}

/** A round adds stride_length tokens to a window of `length`: it cannot add more than the window holds. */
export function strideWithinWindow(bounds: RequestBounds) {
  return (body: { length?: number; semi_ar?: { stride_length: number } }, ctx: z.RefinementCtx): void => {
    const window = body.length ?? bounds.modelLength;
    if (body.semi_ar !== undefined && body.semi_ar.stride_length > window) {
      ctx.addIssue({ code: 'custom', path: ['semi_ar', 'stride_length'], message: `must be at most the window length ${window}` });
    }
  };
}

export type SamplingBody = HttpBody<typeof SAMPLING_PARAMS>;
export type GenerateBody = HttpBody<typeof GENERATE_PARAMS> & HttpBody<typeof RESPONSE_PARAMS> & SamplingBody;

/** The sampling fields as the service names them. */
export function samplingRequest(body: SamplingBody): GenerateRequest {
  return requestOf(SAMPLING_PARAMS, body);
}

export function generateRequest(body: GenerateBody): GenerateRequest {
  return { ...requestOf(GENERATE_PARAMS, body), ...samplingRequest(body) };
}

/** The field an over-long output is blamed on. */
export function outputParam(body: GenerateBody): string {
  return body.semi_ar === undefined ? 'length' : 'semi_ar';
}

export const SampleSchema = z.object({
  index: count(),
  text: z.string().describe('The whole output: prompt, generated tokens and suffix.'),
  token_ids: z.array(count()),
  forward_passes: count(),
});

export const StatsSchema = z.object({
  steps: count().describe('Reverse-process steps per sample, over all rounds.'),
  forward_passes: count().describe('Forward passes, summed over the samples.'),
  wall_ms: z.number(),
  queued_ms: z.number().describe('From admission to the first forward pass.'),
  prompt_tokens: count(),
  output_tokens: count().describe('Tokens the sampler generated (not prompt or suffix), summed over the samples.'),
});

export const GenerateResponseSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    seed: count(),
    samples: z.array(SampleSchema),
    stats: StatsSchema,
  })
  .meta({
    example: {
      id: 'gen-0b7e5f12-9c4d-4a51-8f0e-3d2a6c1b9e77',
      model: 'kuleshov-group/mdlm-owt',
      seed: 1,
      samples: [{ index: 0, text: '<|endoftext|>The quick brown fox ran across the road and into the field, where the farmer', token_ids: [50256, 464, 2068, 7586, 21831, 4966, 1973, 262], forward_passes: 25 }],
      stats: { steps: 32, forward_passes: 25, wall_ms: 2841.5, queued_ms: 0.6, prompt_tokens: 4, output_tokens: 27 },
    },
  });
export type GenerateResponse = z.output<typeof GenerateResponseSchema>;

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
