/**
 * The bridge between the API's snake_case shapes and the generation service: the limits
 * that need the tokenizer, the token counter, and the /v1/generate result shape (which the
 * WebSocket's final message shares).
 */
import { ErrorCodes } from '../errors.js';
import type { EncodedInput, GenerateHooks, GenerateRequest, GenerateResult, GenerationService } from '../generation/index.js';
import type { Limits } from './config.js';
import { fieldError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import type { GenerateBody, GenerateResponse } from './schemas.js';

export class Generations {
  constructor(
    private readonly service: GenerationService,
    private readonly limits: Limits,
    private readonly metrics: ServerMetrics,
  ) {}

  get modelLength(): number {
    return this.service.manifest.config.model_length;
  }

  /** A prompt and suffix encoded once, for the limit checks and the run alike; prompt_too_long past the limit. */
  encodeInput(prompt: string | undefined, suffix: string | undefined): EncodedInput {
    const input = this.service.encodeInput(prompt, suffix);
    const { maxPromptTokens } = this.limits;
    const tokens = input.prefix.length + input.suffix.length;
    if (tokens > maxPromptTokens) {
      throw fieldError(ErrorCodes.promptTooLong, 'prompt', `the prompt and suffix are ${tokens} tokens; this server accepts at most ${maxPromptTokens}`);
    }
    return input;
  }

  /** `outputTokens`: one sample's whole output (prompt, generated tokens, suffix). */
  checkOutputLength(outputTokens: number, param: string): void {
    const { maxOutputTokens } = this.limits;
    if (outputTokens > maxOutputTokens) {
      throw fieldError(ErrorCodes.invalidArgument, param, `the output would be ${outputTokens} tokens; this server generates at most ${maxOutputTokens} per sample`);
    }
  }

  /** Runs a request that has passed the checks above, counting the tokens it generates. */
  run(request: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    return this.service.generate(request, {
      ...hooks,
      onStep: (sample, event) => {
        this.metrics.generatedTokens.inc(event.tokens.length);
        hooks.onStep?.(sample, event);
      },
    });
  }

  /** A /v1/generate-shaped request (HTTP or WebSocket): checked, then run. */
  async runGenerate(body: GenerateBody, hooks: GenerateHooks): Promise<GenerateResult> {
    const request = toServiceRequest(body, this.encodeInput(body.prompt, body.suffix));
    const rounds = request.semiAr === undefined ? 0 : request.semiAr.numStrides * request.semiAr.strideLength;
    this.checkOutputLength((request.length ?? this.modelLength) + rounds, body.semi_ar === undefined ? 'length' : 'semi_ar');
    return this.run(request, hooks);
  }
}

export function toServiceRequest(body: GenerateBody, input: EncodedInput): GenerateRequest {
  return {
    input,
    length: body.length,
    steps: body.steps,
    sampler: body.sampler,
    numSamples: body.num_samples,
    seed: body.seed,
    temperature: body.temperature,
    semiAr: body.semi_ar === undefined ? undefined : { strideLength: body.semi_ar.stride_length, numStrides: body.semi_ar.num_strides },
    stopAtEos: body.stop_at_eos,
  };
}

export function generateResponse(id: string, model: string, result: GenerateResult): GenerateResponse {
  const fixed = result.promptTokens + result.suffixTokens;
  return {
    id,
    model,
    seed: result.seed,
    samples: result.samples.map((sample, index) => ({ index, text: sample.text, token_ids: sample.tokenIds, forward_passes: sample.forwardPasses })),
    stats: {
      steps: result.stats.steps,
      forward_passes: result.stats.forwardPasses,
      wall_ms: result.stats.wallMs,
      queued_ms: result.stats.queuedMs,
      prompt_tokens: result.promptTokens,
      output_tokens: result.samples.reduce((sum, sample) => sum + sample.tokenIds.length - fixed, 0),
    },
  };
}
