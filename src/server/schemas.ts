/**
 * The API's shapes. The same zod schemas validate requests and WebSocket messages and
 * generate the OpenAPI document; request schemas are built per server because their
 * bounds come from the configured limits and the model's length.
 */
import { z } from 'zod';
import { REPORTED_PARAMETERIZATIONS, REPORTED_PARAMETERIZATIONS_SUMMARY } from '../families/index.js';
import { GENERATION_DEFAULTS } from '../generation/index.js';
import { REMDM_DEFAULTS, SAMPLERS } from '../sampling/index.js';
import type { Limits } from './config.js';

export interface SchemaBounds {
  limits: Limits;
  modelLength: number;
  /** The docs' examples: a short text this model's tokenizer can encode, its ids, and the served id. */
  example: { text: string; tokenIds: number[]; modelId: string };
}

/** What the docs' "Try it out" sends: small and fast on any model, never the largest request the schema allows. */
function exampleWindow(bounds: SchemaBounds): { length: number; steps: number } {
  return { length: Math.min(32, bounds.modelLength), steps: 32 };
}

const count = (min = 0) => z.number().int().min(min);
/** Seeds are any non-negative safe integer (src/random.ts folds them). */
const Seed = count().max(Number.MAX_SAFE_INTEGER).describe('Random seed: the same seed and request give the same output. Random when absent; the response says which was used.');
/** A sanity bound: past it every token is close to uniform noise. */
const MAX_TEMPERATURE = 100;
/** A placeholder longer than this only inflates every streamed state. */
const MAX_MASK_TEXT = 64;
const STREAM_ID_MAX = 128;

function semiArSchema(bounds: SchemaBounds) {
  return z
    .strictObject({
      stride_length: count(1).max(bounds.modelLength).describe('tokens each round adds (at most the window length)'),
      num_strides: count(0).max(bounds.limits.maxStrides).describe('rounds after the first; the output has length + num_strides × stride_length tokens'),
    })
    .describe('Semi-autoregressive generation past the window: round r denoises the window starting at r × stride_length, keeping what earlier rounds wrote.');
}

/** The generation options shared by /v1/generate, /v1/completions and WebSocket requests. */
function generationFields(bounds: SchemaBounds) {
  return {
    suffix: z.string().optional().describe('Text fixed at the end of the output: the model fills in between prompt and suffix.'),
    steps: count(1).max(bounds.limits.maxSteps).optional().describe(`Reverse-process steps per round (default ${GENERATION_DEFAULTS.steps}).`),
    sampler: z
      .enum(SAMPLERS)
      .optional()
      .describe(
        `ddpm runs a forward pass every step; ddpm_cache only on steps that unmask something (same distribution, far fewer passes); analytic is ddpm with a noise removal that samples; remdm-cap, remdm-rescale, remdm-loop and remdm-conf remask (ReMDM). Default ${GENERATION_DEFAULTS.sampler}.`,
      ),
    eta: z.number().min(0).optional().describe(`ReMDM's remasking rate for remdm-cap, remdm-rescale and remdm-loop (defaults ${REMDM_DEFAULTS.eta['remdm-cap']}, ${REMDM_DEFAULTS.eta['remdm-rescale']}, ${REMDM_DEFAULTS.eta['remdm-loop']}); at most 1, or (1 − alpha_on)/alpha_on for remdm-loop.`),
    t_on: z.number().gt(0).lt(1).optional().describe(`remdm-loop: the loop phase starts at t_on (default ${REMDM_DEFAULTS.tOn}).`),
    t_off: z.number().gt(0).lt(1).optional().describe(`remdm-loop: and ends at t_off (default ${REMDM_DEFAULTS.tOff}).`),
    alpha_on: z.number().gt(0).lt(1).optional().describe(`remdm-loop: α held during the loop (default ${REMDM_DEFAULTS.alphaOn}).`),
    seed: Seed.optional(),
    temperature: z.number().min(0).max(MAX_TEMPERATURE).optional().describe(`Sampling temperature, dividing the logits before SUBS; 0 is greedy. Default ${GENERATION_DEFAULTS.temperature}.`),
    top_p: z.number().gt(0).max(1).optional().describe('Nucleus sampling: keep the most likely tokens whose mass is within top_p (at least one), after temperature and top_k. 1 (the default) is off.'),
    top_k: count(0).optional().describe('Keep only the top_k most likely tokens at each draw. 0 (the default) is off.'),
    semi_ar: semiArSchema(bounds).optional(),
    add_special_tokens: z.boolean().optional().describe("Frame a prompt with the tokenizer's BOS and a suffix with its EOS, as every training row is (default true; tokenizers without them are unaffected)."),
  };
}

function generateFields(bounds: SchemaBounds) {
  return {
    prompt: z.string().optional().describe('Text fixed at the start of the output.'),
    length: count(1).max(bounds.modelLength).optional().describe(`Window length in tokens (default and maximum: the model's length, ${bounds.modelLength}).`),
    num_samples: count(1).max(bounds.limits.maxNumSamples).optional().describe(`Independent samples (default ${GENERATION_DEFAULTS.numSamples}).`),
    stop_at_eos: z.boolean().optional().describe("Cut each sample's text at the first end-of-text token after the prompt (default false)."),
    ...generationFields(bounds),
  };
}

/** A round adds stride_length tokens to a window of `length`: it cannot add more than the window holds. */
function strideWithinWindow(bounds: SchemaBounds) {
  return (body: { length?: number; semi_ar?: { stride_length: number } }, ctx: z.RefinementCtx): void => {
    const window = body.length ?? bounds.modelLength;
    if (body.semi_ar !== undefined && body.semi_ar.stride_length > window) {
      ctx.addIssue({ code: 'custom', path: ['semi_ar', 'stride_length'], message: `must be at most the window length ${window}` });
    }
  };
}

export function generateBodySchema(bounds: SchemaBounds) {
  return z
    .strictObject(generateFields(bounds))
    .superRefine(strideWithinWindow(bounds))
    .meta({ example: { prompt: bounds.example.text, ...exampleWindow(bounds), seed: 1 } });
}

/** OpenAI allows at most 4 stop sequences. */
const MAX_STOP_SEQUENCES = 4;
/** OpenAI's completions API returns at most 5 alternatives per token. */
export const MAX_COMPLETION_LOGPROBS = 5;
const TokenIds = z.array(count()).min(1);

export function completionBodySchema(bounds: SchemaBounds) {
  const { maxNumSamples, maxOutputTokens } = bounds.limits;
  return z
    .strictObject({
      model: z.string().describe('A model id from GET /v1/models.'),
      prompt: z
        .union([z.string(), z.array(z.string()).min(1).max(maxNumSamples), TokenIds, z.array(TokenIds).min(1).max(maxNumSamples)])
        .describe('A prompt, or several: text, a list of texts, token ids, or a list of token-id lists. Each prompt gets n choices, indexed prompt_index × n + j.'),
      max_tokens: count(0).max(maxOutputTokens).default(16).describe('Tokens to generate after the prompt (0 with echo: score the prompt only). Past the model length, generation turns semi-autoregressive (see the description).'),
      n: count(1).max(maxNumSamples).default(1).describe('Choices per prompt.'),
      stream: z.boolean().default(false).describe('Stream each choice as server-sent events ending in data: [DONE].'),
      stream_options: z.strictObject({ include_usage: z.boolean().optional() }).optional(),
      stop: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_STOP_SEQUENCES)])
        .nullable()
        .optional()
        .describe(`Up to ${MAX_STOP_SEQUENCES} sequences: a choice ends just before the first one in its generated text (finish_reason "stop").`),
      logprobs: count(0).max(MAX_COMPLETION_LOGPROBS).nullable().optional().describe(`Log-probabilities of the tokens, with the top ${MAX_COMPLETION_LOGPROBS} or fewer alternatives of each (see the description for what they mean on a diffusion model).`),
      echo: z.boolean().default(false).describe('Include the prompt in the text (and, with logprobs, its left-to-right log-probabilities).'),
      stop_at_eos: z.boolean().default(true).describe('End each choice at the first end-of-text token (finish_reason "stop").'),
      presence_penalty: z.number().optional().describe('Accepted at 0 only: diffusion sampling has no penalties.'),
      frequency_penalty: z.number().optional().describe('Accepted at 0 only.'),
      best_of: count(1).optional().describe('Accepted at 1 or n only.'),
      logit_bias: z.record(z.string(), z.number()).optional().describe('Accepted empty only.'),
      user: z.string().optional().describe('Accepted and ignored.'),
      ...generationFields(bounds),
    })
    .superRefine((body, ctx) => {
      const prompts = typeof body.prompt === 'string' || typeof body.prompt[0] === 'number' ? 1 : body.prompt.length;
      if (prompts * body.n > maxNumSamples) ctx.addIssue({ code: 'custom', path: ['n'], message: `prompts × n must be at most ${maxNumSamples}` });
      if (body.max_tokens === 0 && !body.echo) ctx.addIssue({ code: 'custom', path: ['max_tokens'], message: 'must be at least 1 unless echo is true (echo with max_tokens 0 scores the prompt only)' });
    })
    .meta({ example: { model: bounds.example.modelId, prompt: bounds.example.text, max_tokens: 8, steps: exampleWindow(bounds).steps, seed: 1 } });
}

export function streamClientMessageSchema(bounds: SchemaBounds) {
  const id = z.string().min(1).max(STREAM_ID_MAX).describe('Chosen by the client; names every message about this request.');
  return z.discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('generate'),
        id,
        decode_text: z.boolean().default(false).describe('Add the decoded text of the whole output to started and step messages.'),
        mask_text: z.string().max(MAX_MASK_TEXT).optional().describe('How a masked position shows in that text (default "[MASK]").'),
        ...generateFields(bounds),
      })
      .superRefine(strideWithinWindow(bounds)),
    z.strictObject({ type: z.literal('cancel'), id }),
  ]);
}

export type GenerateBody = z.output<ReturnType<typeof generateBodySchema>>;
export type CompletionBody = z.output<ReturnType<typeof completionBodySchema>>;
export type StreamClientMessage = z.output<ReturnType<typeof streamClientMessageSchema>>;
export type StreamGenerateMessage = Extract<StreamClientMessage, { type: 'generate' }>;

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

export const FINISH_REASONS = ['stop', 'length'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

const UsageSchema = z.object({ prompt_tokens: count(), completion_tokens: count(), total_tokens: count() });
export type Usage = z.output<typeof UsageSchema>;

export const CompletionLogprobsSchema = z.object({
  tokens: z.array(z.string()).describe('Each token of the text, decoded alone.'),
  token_logprobs: z.array(z.number().nullable()).describe("Each token's log-probability (null for a first prompt token with nothing before it)."),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).describe('The most likely alternatives at each token, from the same distribution.'),
  text_offset: z.array(count()).describe("Each token's character offset in the text."),
});
export type CompletionLogprobs = z.output<typeof CompletionLogprobsSchema>;

export const CompletionResponseSchema = z.object({
  id: z.string(),
  object: z.literal('text_completion'),
  created: count(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: count(),
      text: z.string().describe('The generated text (no suffix), after the prompt when echo is set.'),
      logprobs: CompletionLogprobsSchema.nullable(),
      finish_reason: z.enum(FINISH_REASONS),
    }),
  ),
  usage: UsageSchema,
}).meta({
  example: {
    id: 'cmpl-5c2d8e41-7a3b-4f9e-b1d0-8e6f4a2c7b13',
    object: 'text_completion',
    created: 1764547200,
    model: 'kuleshov-group/mdlm-owt',
    choices: [{ index: 0, text: ' ran across the road and into', logprobs: null, finish_reason: 'length' }],
    usage: { prompt_tokens: 4, completion_tokens: 8, total_tokens: 12 },
  },
});
export type CompletionResponse = z.output<typeof CompletionResponseSchema>;

export const ModelSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: count(),
  owned_by: z.string(),
  model_length: count(),
  vocab_size: count(),
  time_conditioning: z.boolean(),
  parameterization: z.enum(REPORTED_PARAMETERIZATIONS).describe(REPORTED_PARAMETERIZATIONS_SUMMARY),
  provider: z.string().describe('The execution provider running the model.'),
}).meta({ example: { id: 'kuleshov-group/mdlm-owt', object: 'model', created: 1764547200, owned_by: 'kuleshov-group', model_length: 1024, vocab_size: 50258, time_conditioning: false, provider: 'cpu' } });
export type ModelEntry = z.output<typeof ModelSchema>;

export const ModelListSchema = z.object({ object: z.literal('list'), data: z.array(ModelSchema) });
export const ModelParamsSchema = z.object({ model: z.string() });

export const ErrorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. validation_error, overloaded.'),
    message: z.string(),
    type: z.string(),
    param: z.string().nullable().describe('The request field at fault.'),
  }),
}).meta({ example: { error: { code: 'validation_error', message: 'steps: Too small: expected number to be >=1', type: 'invalid_request_error', param: 'steps' } } });

/** Response schemas every route shares: the error envelope for any failure. */
export const ERROR_RESPONSES = { '4xx': ErrorEnvelopeSchema, '5xx': ErrorEnvelopeSchema } as const;

export const AliveSchema = z.object({ status: z.literal('ok') });
export const ReadySchema = z
  .object({ status: z.literal('ready'), model: z.string(), provider: z.string(), ready_workers: count() })
  .meta({ example: { status: 'ready', model: 'kuleshov-group/mdlm-owt', provider: 'cpu', ready_workers: 1 } });
