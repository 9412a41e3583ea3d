/** The shapes of POST /v1/completions (OpenAI's, plus the diffusion fields every generation takes). */
import { z } from 'zod';
import { count, samplingFields } from '../../../api/index.js';
import { type SchemaBounds, exampleWindow } from '../../context.js';
import { ErrorEnvelopeSchema } from '../../errors.js';

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

export type CompletionBody = z.output<ReturnType<typeof completionBodySchema>>;

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

/** The fields every completion object starts with: the response and each streamed chunk. */
const completionHeader = () => ({ id: z.string(), object: z.literal('text_completion'), created: count(), model: z.string() });

export const CompletionResponseSchema = z.object({
  ...completionHeader(),
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

/**
 * One server-sent event of a streamed completion: text one choice adds (with the logprobs of
 * the tokens it completes), its finish_reason on its last chunk (null before), and with
 * stream_options.include_usage a last chunk with no choices and the usage.
 */
export const CompletionChunkSchema = z.strictObject({
  ...completionHeader(),
  choices: z.array(z.strictObject({ index: count(), text: z.string(), logprobs: CompletionLogprobsSchema.nullable(), finish_reason: z.enum(FINISH_REASONS).nullable() })),
  usage: UsageSchema.optional(),
});
export type CompletionChunk = z.output<typeof CompletionChunkSchema>;

/** What a streamed completion's events carry until data: [DONE]: chunks, or an error envelope that ends the stream instead. */
export const CompletionEventSchema = z.union([CompletionChunkSchema, ErrorEnvelopeSchema]);
export type CompletionEvent = z.output<typeof CompletionEventSchema>;
