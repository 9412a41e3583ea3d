import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { GenerateHooks, GenerateResult, GenerationService, PreparedGeneration, PreparedScore, ScoredItem } from '../../generation/index.js';
import {
  type ChoiceChunk,
  type ChoiceOptions,
  type EchoedPrompt,
  StreamedChoice,
  checkNeutralParameters,
  choiceOptions,
  completionRequest,
  echoedPrompt,
  finishedChoice,
  promptsOf,
} from '../completion.js';
import type { ServerContext } from '../context.js';
import { disconnectSignal } from '../disconnect.js';
import { envelope, toApiError } from '../errors.js';
import { prepareWithinLimits } from '../limits.js';
import { type RunStats, combineStats } from '../request-log.js';
import { type CompletionBody, type CompletionResponse, CompletionResponseSchema, ERROR_RESPONSES, type FinishReason, type Usage, completionBodySchema } from '../schemas.js';
import { EventStream } from '../sse.js';
import { requireModel } from './models.js';

const DESCRIPTION = `OpenAI's completions API. The choice text is the generated part (no suffix), after the prompt with echo.
When prompt + max_tokens + suffix fits the model's length, the window is exactly that long. Otherwise generation turns
semi-autoregressive: windows of the model's length advancing by half of it (or as semi_ar says), with as many strides as
it takes to cover prompt + max_tokens; the choice is the max_tokens after the prompt and a suffix closes the whole output.
A prompt follows the tokenizer's BOS (GPT-2's <|endoftext|>) as every training row does, unless add_special_tokens is false;
the choice text never includes it. A choice ends at the first end-of-text (stop_at_eos) and before the first stop sequence.
logprobs: a generated token's log-probability is that of its draw at the step it unmasked (the model's p_x0 there, before
temperature and truncation), not a left-to-right conditional; its alternatives come from the same distribution. With echo,
each prompt token's log-probability is the left-to-right conditional log p(x_i | x_<i) through the denoiser, every later
position of the window (BOS, prompt, max_tokens) masked: what lm-evaluation-harness's loglikelihood requests read.
With stream: true, each choice's text arrives as server-sent events as its longest fully unmasked run after the prompt
grows (MDLM never changes an unmasked token, so every delta is final), then a chunk with finish_reason, then data: [DONE].`;

/** One prompt of a request: its ids (encoded once), what generates its choices and what scores its echo. */
interface PromptPlan {
  ids: number[];
  generation: PreparedGeneration | undefined;
  score: PreparedScore | undefined;
}

/** One completion request: the parts of every chunk and of the final response. */
interface Completion {
  id: string;
  created: number;
  model: string;
  body: CompletionBody;
  options: ChoiceOptions;
  plans: PromptPlan[];
}

/** What ran for one prompt. */
interface PromptRun {
  generation: GenerateResult | undefined;
  score: ScoredItem | undefined;
  stats: RunStats[];
}

export const completionsRoutes: FastifyPluginAsyncZod<ServerContext> = async (app, context) => {
  const { modelId, bounds } = context;
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
      checkNeutralParameters(body);
      const plans = promptsOf(body).map((prompt) => planPrompt(context, body, prompt));
      const completion: Completion = { id: `cmpl-${request.id}`, created: Math.floor(Date.now() / 1000), model: modelId, body, options: choiceOptions(body), plans };
      return body.stream ? streamCompletion(context, completion, request, reply) : complete(context, completion, request, reply);
    },
  );
};

function planPrompt({ service, config }: ServerContext, body: CompletionBody, prompt: string | number[]): PromptPlan {
  const ids = typeof prompt === 'string' ? service.tokenize(prompt, false) : prompt;
  const generation = body.max_tokens > 0 ? prepareWithinLimits(service, completionRequest(body, ids), config.limits, 'max_tokens') : undefined;
  if (generation === undefined) service.detokenize(ids, 'prompt');
  return { ids, generation, score: body.echo && body.logprobs !== undefined && body.logprobs !== null ? echoScore(service, body, ids) : undefined };
}

/**
 * The left-to-right conditionals of the prompt in its window. With framing BOS is the context
 * and every prompt token is scored; without, the first token has nothing before it.
 */
function echoScore(service: GenerationService, body: CompletionBody, ids: number[]): PreparedScore | undefined {
  const framed = body.add_special_tokens !== false && service.model.bosId !== undefined;
  const item = framed ? { input: ids } : { input: ids.slice(1), context: ids.slice(0, 1) };
  if (item.input.length === 0) return undefined;
  return service.prepareScore({ items: [{ ...item, trailing: body.max_tokens, param: 'prompt' }], method: 'ar', addSpecialTokens: body.add_special_tokens });
}

async function complete(context: ServerContext, completion: Completion, request: FastifyRequest, reply: FastifyReply): Promise<CompletionResponse> {
  const runs = await runPrompts(context, completion.plans, disconnectSignal(reply), () => ({}));
  request.outcome.stats = combineStats(runs.flatMap((run) => run.stats));
  const choices = eachChoice(completion, (p, j) => {
    const plan = completion.plans[p] as PromptPlan;
    const run = runs[p] as PromptRun;
    return finishedChoice(context.service, run.generation?.samples[j], plan.generation, completion.options, echoOf(context, completion, p, run));
  });
  return {
    id: completion.id,
    object: 'text_completion',
    created: completion.created,
    model: completion.model,
    choices: choices.map((choice, index) => ({ index, text: choice.text, logprobs: choice.logprobs, finish_reason: choice.finishReason })),
    usage: usage(completion.plans, choices.reduce((sum, choice) => sum + choice.tokens, 0)),
  };
}

/** The echoed prompt of prompt p, when echo is set. */
function echoOf(context: ServerContext, completion: Completion, p: number, run: PromptRun): EchoedPrompt | undefined {
  if (!completion.options.echo) return undefined;
  return echoedPrompt(context.service, (completion.plans[p] as PromptPlan).ids, run.score, completion.options.logprobs ?? 0);
}

/** Choice index prompt_index × n + j, in order. */
function eachChoice<T>(completion: Completion, build: (prompt: number, sample: number) => T): T[] {
  return completion.plans.flatMap((_, p) => Array.from({ length: completion.body.n }, (__, j) => build(p, j)));
}

/**
 * Server-sent events. Errors before every prompt is admitted (a full queue, say) still get
 * a plain HTTP error; later ones arrive as an event carrying the error envelope. An echoed
 * prompt is the first chunk of each choice.
 */
async function streamCompletion(context: ServerContext, completion: Completion, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { body, plans, options } = completion;
  const { service } = context;
  const events = new EventStream();
  const choices: StreamedChoice[] = [];
  const send = (fields: object) => events.send({ id: completion.id, object: 'text_completion', created: completion.created, model: completion.model, ...fields });
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

/**
 * Runs every prompt of a request together: its echo's score first (when logprobs need it),
 * then its generation. One failure cancels the others.
 */
function runPrompts(context: ServerContext, plans: readonly PromptPlan[], disconnected: AbortSignal, hooksFor: (prompt: number, run: PromptRun) => GenerateHooks): Promise<PromptRun[]> {
  const failed = new AbortController();
  const signal = AbortSignal.any([disconnected, failed.signal]);
  const runs = plans.map(async (plan, p) => {
    const run: PromptRun = { generation: undefined, score: undefined, stats: [] };
    if (plan.score !== undefined) {
      const scored = await context.service.score(plan.score, { signal });
      run.score = scored.items[0];
      run.stats.push(scored.stats);
    }
    if (plan.generation !== undefined) {
      run.generation = await context.service.generate(plan.generation, { ...hooksFor(p, run), signal });
      run.stats.push(run.generation.stats);
    }
    return run;
  });
  for (const run of runs) run.catch(() => failed.abort());
  return Promise.all(runs);
}

function usage(plans: readonly PromptPlan[], completionTokens: number): Usage {
  const promptTokens = plans.reduce((sum, plan) => sum + plan.ids.length, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}
