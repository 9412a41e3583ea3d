import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationService, PreparedGeneration } from '../../../generation/index.js';
import type { ServerContext } from '../../context.js';
import { envelope, toApiError } from '../../errors.js';
import { combineStats } from '../../plugins/request-log.js';
import { disconnectSignal } from '../common/disconnect.js';
import { type ChoiceChunk, type ChoiceOptions, type EchoedPrompt, StreamedChoice, finishedChoice } from './choice.js';
import { type Completion, type PromptPlan, type PromptRun, eachChoice, echoOf, runPrompts, usage } from './prompts.js';
import type { CompletionChunk, CompletionEvent, FinishReason } from './schemas.js';
import { EventStream } from './sse.js';

/**
 * Server-sent events. Errors before every prompt is admitted (a full queue, say) still get
 * a plain HTTP error; later ones arrive as an event carrying the error envelope. An echoed
 * prompt is the first chunk of each choice.
 */
export async function streamCompletion(context: ServerContext, completion: Completion, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { body, plans, options } = completion;
  const { service } = context;
  const events = new EventStream<CompletionEvent>();
  const choices: StreamedChoice[] = [];
  const send = (fields: Pick<CompletionChunk, 'choices' | 'usage'>) => events.send({ id: completion.id, object: 'text_completion', created: completion.created, model: completion.model, ...fields });
  const chunk = (index: number, piece: ChoiceChunk, finishReason: FinishReason | null) => send({ choices: [{ index, text: piece.text, logprobs: piece.logprobs, finish_reason: finishReason }] });
  let admitted = 0;
  let markAllAdmitted = (): void => undefined;
  const allAdmitted = new Promise<void>((resolve) => (markAllAdmitted = resolve));
  const generating = plans.filter((plan) => plan.generation !== undefined).length;
  if (generating === 0) markAllAdmitted();

  const finished = runPrompts(context, plans, disconnectSignal(reply), (p, run) => ({
    onStart: ({ initialTokenIds }) => {
      for (let j = 0; j < body.n; j++) {
        const index = p * body.n + j;
        choices[index] = new StreamedChoice(service, initialTokenIds, (plans[p] as PromptPlan).generation as PreparedGeneration, options);
        const echo = echoOf(context, completion, p, run);
        if (echo !== undefined) chunk(index, echoChunk(service, echo, options), null);
      }
      if (++admitted === generating) markAllAdmitted();
    },
    onStep: (sample, event) => {
      const piece = (choices[p * body.n + sample] as StreamedChoice).apply(event);
      if (piece !== undefined) chunk(p * body.n + sample, piece, null);
    },
  })).then((runs) => {
    let completionTokens = 0;
    eachChoice(completion, (p, j) => {
      const index = p * body.n + j;
      const run = runs[p] as PromptRun;
      const sample = run.generation?.samples[j];
      if (sample === undefined) {
        // max_tokens 0: the echoed prompt is the whole choice.
        const echo = echoOf(context, completion, p, run) as EchoedPrompt;
        chunk(index, echoChunk(service, echo, options), 'length');
        return;
      }
      const { delta, finishReason, tokens } = (choices[index] as StreamedChoice).finish(sample);
      completionTokens += tokens;
      chunk(index, delta, finishReason);
    });
    return { runs, completionTokens };
  });

  await Promise.race([allAdmitted, finished]);
  finished.then(
    ({ runs, completionTokens }) => {
      request.outcome.stats = combineStats(runs.flatMap((run) => run.stats));
      if (body.stream_options?.include_usage) send({ choices: [], usage: usage(plans, completionTokens) });
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

function echoChunk(service: GenerationService, echo: EchoedPrompt, options: ChoiceOptions): ChoiceChunk {
  const { text, logprobs } = finishedChoice(service, undefined, undefined, options, echo);
  return { text, logprobs };
}

