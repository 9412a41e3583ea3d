/** The WebSocket protocol of /v1/stream: what a client sends, and what the server sends back. */
import { z } from 'zod';
import { SampleSchema, StatsSchema, count, generateFields, strideWithinWindow } from '../../../api/index.js';
import type { SchemaBounds } from '../../context.js';
import { ErrorEnvelopeSchema } from '../../errors.js';

/** A placeholder longer than this only inflates every streamed state. */
const MAX_MASK_TEXT = 64;
const STREAM_ID_MAX = 128;

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

export type StreamClientMessage = z.output<ReturnType<typeof streamClientMessageSchema>>;
export type StreamGenerateMessage = Extract<StreamClientMessage, { type: 'generate' }>;

const ServerId = z.string().describe("The client's id of the request the message is about.");
const TokenIds = z.array(count());
const DecodedText = z.string().optional().describe('The decoded text of the whole output, when decode_text is set.');

/** The first message of a request: its seed, its sizes, and the output as it starts (prompt, masks, suffix). */
export const StartedMessageSchema = z.strictObject({
  type: z.literal('started'),
  id: ServerId,
  seed: count(),
  prompt_tokens: count(),
  suffix_tokens: count(),
  output_length: count(),
  mask_id: count(),
  token_ids: TokenIds,
  text: DecodedText,
});

/** What one step (or several merged, for a slow reader) changed in one sample: apply `remasked` first, then `positions`. */
export const StepMessageSchema = z.strictObject({
  type: z.literal('step'),
  id: ServerId,
  sample: count(),
  round: count(),
  step: count(),
  t: z.number(),
  forward_passes: count(),
  positions: TokenIds.describe('Output positions unmasked since the last step message of this sample.'),
  token_ids: TokenIds.describe('The tokens now at those positions.'),
  remasked: TokenIds.describe('Output positions that went back to the mask.'),
  text: DecodedText,
});

/** A finished request: /v1/generate's samples and stats. */
export const DoneMessageSchema = z.strictObject({ type: z.literal('done'), id: ServerId, samples: z.array(SampleSchema), stats: StatsSchema });

/**
 * A request that failed, or a message that started none. When the message's id is in flight
 * already, id is null and rejected_id names it.
 */
export const ErrorMessageSchema = z.strictObject({
  type: z.literal('error'),
  id: ServerId.nullable(),
  rejected_id: z.string().optional(),
  error: ErrorEnvelopeSchema.shape.error,
});

export const CancelledMessageSchema = z.strictObject({ type: z.literal('cancelled'), id: ServerId });

/** Every message the server sends on /v1/stream: per id, started, steps, then exactly one of done, error or cancelled. */
export const StreamServerMessageSchema = z.discriminatedUnion('type', [StartedMessageSchema, StepMessageSchema, DoneMessageSchema, ErrorMessageSchema, CancelledMessageSchema]);
export type StreamServerMessage = z.output<typeof StreamServerMessageSchema>;
export type StartedMessage = z.output<typeof StartedMessageSchema>;
export type StepMessage = z.output<typeof StepMessageSchema>;
export type DoneMessage = z.output<typeof DoneMessageSchema>;
