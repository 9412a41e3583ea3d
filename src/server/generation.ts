/**
 * The bridge between the API's snake_case shapes and the generation service: the limits
 * that need the tokenizer, the token counter, and the /v1/generate result shape (which the
 * WebSocket's final message shares).
 */
import { ErrorCodes } from '../errors.js';
import type { GenerateHooks, GenerateRequest, GenerateResult, GenerationService } from '../generation/index.js';
import type { Limits } from './config.js';
import { fieldError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import type { GenerateBody, GenerateResponse } from './schemas.js';

export interface InputTokens {
  promptTokens: number;
  suffixTokens: number;
}

export class Generations {
  constructor(
    private readonly service: GenerationService,
    private readonly limits: Limits,
    private readonly metrics: ServerMetrics,
  ) {}

  get modelLength(): number {
    return this.service.manifest.config.model_length;
  }

  /** Token counts of a prompt and suffix; prompt_too_long past the limit. */
  measureInput(prompt: string | undefined, suffix: string | undefined): InputTokens {
    const counts = { promptTokens: this.service.encodeText(prompt).length, suffixTokens: this.service.encodeText(suffix).length };
    const { maxPromptTokens } = this.limits;
    if (counts.promptTokens + counts.suffixTokens > maxPromptTokens) {
      throw fieldError(ErrorCodes.promptTooLong, 'prompt', `the prompt and suffix are ${counts.promptTokens + counts.suffixTokens} tokens; this server accepts at most ${maxPromptTokens}`);
    }
    return counts;
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
    const request = toServiceRequest(body);
    this.measureInput(request.prompt, request.suffix);
    const rounds = request.semiAr === undefined ? 0 : request.semiAr.numStrides * request.semiAr.strideLength;
    this.checkOutputLength((request.length ?? this.modelLength) + rounds, body.semi_ar === undefined ? 'length' : 'semi_ar');
    return this.run(request, hooks);
  }
}

export function toServiceRequest(body: GenerateBody): GenerateRequest {
  return {
    prompt: body.prompt,
    suffix: body.suffix,
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
