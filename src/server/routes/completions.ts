import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { GenerateHooks, GenerateResult, PreparedGeneration } from '../../generation/index.js';
import { StreamedChoice, choiceText, completionRequest } from '../completion.js';
import type { ServerContext } from '../context.js';
import { disconnectSignal } from '../disconnect.js';
import { envelope, toApiError } from '../errors.js';
import { prepareWithinLimits } from '../limits.js';
import { combineStats } from '../request-log.js';
import { type CompletionBody, type CompletionResponse, CompletionResponseSchema, ERROR_RESPONSES, type FinishReason, type Usage, completionBodySchema } from '../schemas.js';
import { EventStream } from '../sse.js';
import { requireModel } from './models.js';

const DESCRIPTION = `OpenAI's completions API. The choice text is only the generated part (no prompt, no suffix).
When prompt + max_tokens + suffix fits the model's length, the window is exactly that long. Otherwise generation turns
semi-autoregressive: windows of the model's length advancing by half of it (or as semi_ar says), with as many strides as
it takes to cover prompt + max_tokens; the choice is the max_tokens after the prompt and a suffix closes the whole output.
With stream: true, each choice's text arrives as server-sent events as its longest fully unmasked run after the prompt
grows (MDLM never changes an unmasked token, so every delta is final), then a chunk with finish_reason, then data: [DONE].`;

/** One completion request: the parts of every chunk and of the final response. */
interface Completion {
  id: string;
  created: number;
  model: string;
  body: CompletionBody;
  /** One per prompt. */
  plans: PreparedGeneration[];
}

export const completionsRoutes: FastifyPluginAsyncZod<ServerContext> = async (app, context) => {
  const { service, config, modelId, bounds } = context;
  app.post(
    '/v1/completions',
    {
      schema: {
        summary: 'Create completions (OpenAI-compatible)',
        description: DESCRIPTION,
        tags: ['openai'],
        body: completionBodySchema(bounds),
        response: { 200: CompletionResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      requireModel(body.model, modelId);
      const plans = (typeof body.prompt === 'string' ? [body.prompt] : body.prompt).map((prompt) =>
        prepareWithinLimits(service, completionRequest(body, prompt), config.limits, 'max_tokens'),
      );
      const completion: Completion = { id: `cmpl-${request.id}`, created: Math.floor(Date.now() / 1000), model: modelId, body, plans };
      return body.stream ? streamCompletion(context, completion, request, reply) : complete(context, completion, request, reply);
    },
  );
};

async function complete(context: ServerContext, completion: Completion, request: FastifyRequest, reply: FastifyReply): Promise<CompletionResponse> {
  const results = await runPlans(context, completion.plans, disconnectSignal(reply), () => ({}));
  request.outcome.stats = combineStats(results.map((result) => result.stats));
  const choices = results.flatMap((result, p) =>
    result.samples.map((sample, j) => ({ index: p * completion.body.n + j, ...choiceText(context.service, sample.tokenIds, completion.plans[p] as PreparedGeneration, completion.body.stop_at_eos) })),
  );
  return {
    id: completion.id,
    object: 'text_completion',
    created: completion.created,
    model: completion.model,
    choices: choices.map((choice) => ({ index: choice.index, text: choice.text, logprobs: null, finish_reason: choice.finishReason })),
    usage: usage(completion.plans, choices.reduce((sum, choice) => sum + choice.tokens, 0)),
  };
}

/**
 * Server-sent events. Errors before every prompt is admitted (a full queue, say) still get
 * a plain HTTP error; later ones arrive as an event carrying the error envelope.
 */
async function streamCompletion(context: ServerContext, completion: Completion, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { body, plans } = completion;
  const { service } = context;
  const events = new EventStream();
  const choices: StreamedChoice[] = [];
  const send = (fields: object) => events.send({ id: completion.id, object: 'text_completion', created: completion.created, model: completion.model, ...fields });
  const chunk = (index: number, text: string, finishReason: FinishReason | null) => send({ choices: [{ index, text, logprobs: null, finish_reason: finishReason }] });
  let admitted = 0;
  let markAllAdmitted = (): void => undefined;
  const allAdmitted = new Promise<void>((resolve) => (markAllAdmitted = resolve));

  const finished = runPlans(context, plans, disconnectSignal(reply), (p) => ({
    onStart: ({ initialTokenIds }) => {
      for (let j = 0; j < body.n; j++) choices[p * body.n + j] = new StreamedChoice(service, initialTokenIds, plans[p] as PreparedGeneration, body.stop_at_eos);
      if (++admitted === plans.length) markAllAdmitted();
    },
    onStep: (sample, event) => {
      const delta = (choices[p * body.n + sample] as StreamedChoice).apply(event);
      if (delta !== '') chunk(p * body.n + sample, delta, null);
    },
  })).then((results) => {
    let completionTokens = 0;
    results.forEach((result, p) =>
      result.samples.forEach((sample, j) => {
        const index = p * body.n + j;
        const { delta, finishReason, tokens } = (choices[index] as StreamedChoice).finish(sample.tokenIds);
        completionTokens += tokens;
        chunk(index, delta, finishReason);
      }),
    );
    return { results, completionTokens };
  });

  await Promise.race([allAdmitted, finished]);
  finished.then(
    ({ results, completionTokens }) => {
      request.outcome.stats = combineStats(results.map((result) => result.stats));
      if (body.stream_options?.include_usage) {
        send({ choices: [], usage: usage(plans, completionTokens) });
      }
      events.done();
    },
    (error: unknown) => {
      const api = toApiError(error);
      request.outcome.code = api.code;
      events.send(envelope(api));
      events.end();
    },
  );
  return events.reply(reply);
}

/** Runs every prompt of a request together; one failure cancels the others. */
function runPlans(context: ServerContext, plans: readonly PreparedGeneration[], disconnected: AbortSignal, hooksFor: (prompt: number) => GenerateHooks): Promise<GenerateResult[]> {
  const failed = new AbortController();
  const signal = AbortSignal.any([disconnected, failed.signal]);
  const runs = plans.map((plan, p) => context.service.generate(plan, { ...hooksFor(p), signal }));
  for (const run of runs) run.catch(() => failed.abort());
  return Promise.all(runs);
}

function usage(plans: readonly PreparedGeneration[], completionTokens: number): Usage {
  const promptTokens = plans.reduce((sum, plan) => sum + plan.promptTokens, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}
