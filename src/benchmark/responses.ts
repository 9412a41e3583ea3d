/**
 * What the bench reads from the server's answers: the generated tokens and the diffusion
 * statistics of a success, the code of the JSON error envelope of a failure. Each endpoint's
 * answer is checked against the part of its shape the bench uses.
 */
import { z } from 'zod';

const count = z.number().int().min(0);

/** /v1/generate and the WebSocket's `done`: statistics of the whole request. */
const GenerationStatsSchema = z.object({ steps: count, forward_passes: count, queued_ms: z.number(), output_tokens: count });
const GenerateAnswerSchema = z.object({ stats: GenerationStatsSchema });
/** /v1/completions and the usage chunk of its stream: tokens only (OpenAI's shape has no passes). */
const CompletionAnswerSchema = z.object({ usage: z.object({ completion_tokens: count }) });
const ScoreAnswerSchema = z.object({ stats: z.object({ forward_passes: count, queued_ms: z.number() }) });

/** Failures without the envelope (a proxy's page, say) are counted under this code, with the start of the body. */
const NO_ERROR_CODE = 'no_error_code';
const MESSAGE_CHARS = 200;

const EnvelopeSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** What one successful request did. Fields a response does not report are undefined. */
export interface RequestOutcome {
  tokens: number;
  steps?: number;
  forwardPasses?: number;
  queuedMs?: number;
}

export type AnswerKind = 'generation' | 'completion' | 'score';

/** The outcome a successful answer reports, or undefined when it is not the expected shape. */
export function outcomeOf(kind: AnswerKind, answer: unknown): RequestOutcome | undefined {
  switch (kind) {
    case 'generation': {
      const parsed = GenerateAnswerSchema.safeParse(answer);
      if (!parsed.success) return undefined;
      const { output_tokens, steps, forward_passes, queued_ms } = parsed.data.stats;
      return { tokens: output_tokens, steps, forwardPasses: forward_passes, queuedMs: queued_ms };
    }
    case 'completion': {
      const parsed = CompletionAnswerSchema.safeParse(answer);
      return parsed.success ? { tokens: parsed.data.usage.completion_tokens } : undefined;
    }
    case 'score': {
      const parsed = ScoreAnswerSchema.safeParse(answer);
      return parsed.success ? { tokens: 0, forwardPasses: parsed.data.stats.forward_passes, queuedMs: parsed.data.stats.queued_ms } : undefined;
    }
  }
}

/** The error envelope's code and message, when `value` is one. */
export function envelopeError(value: unknown): { code: string; message: string } | undefined {
  const parsed = EnvelopeSchema.safeParse(value);
  return parsed.success ? parsed.data.error : undefined;
}

/** The envelope of a body given as text, when it is one. */
export function errorOfBody(body: string): { code: string; message: string } | undefined {
  return envelopeError(parseJson(body));
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A failed HTTP answer as the tally counts it: its status, and the envelope's code and message when it has one. */
export function failureOf(status: number, body: string): { status: number; code: string; message: string } {
  const error = errorOfBody(body);
  return error === undefined ? { status, code: NO_ERROR_CODE, message: body.slice(0, MESSAGE_CHARS) } : { status, ...error };
}
