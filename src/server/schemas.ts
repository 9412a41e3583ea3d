/**
 * The API's shapes. The same zod schemas validate requests and WebSocket messages and
 * generate the OpenAPI document; request schemas are built per server because their
 * bounds come from the configured limits and the model's length.
 */
import { z } from 'zod';
import { type Limits, count, generateFields, samplingFields } from '../api/index.js';

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

/** A placeholder longer than this only inflates every streamed state. */
const MAX_MASK_TEXT = 64;
const STREAM_ID_MAX = 128;

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
      ...samplingFields(bounds),
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
  parameterization: z
    .enum(['subs', 'sedd', 'ar'])
    .describe("subs: MDLM (every sampler); sedd: SEDD (the analytic sampler, the NELBO); ar: the seed's autoregressive baseline (left to right, method ar; no steps, sampler, suffix or semi_ar)."),
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
