import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { ERROR_RESPONSES } from '../../errors.js';
import { combineStats } from '../../plugins/request-log.js';
import { disconnectSignal } from '../common/disconnect.js';
import { requireModel } from '../common/model-id.js';
import { routePlugin } from '../common/route-plugin.js';
import { finishedChoice } from './choice.js';
import { type Completion, type PromptPlan, type PromptRun, eachChoice, echoOf, planPrompt, runPrompts, usage } from './prompts.js';
import { checkNeutralParameters, choiceOptions, promptsOf } from './request.js';
import { type CompletionResponse, CompletionResponseSchema, completionBodySchema } from './schemas.js';
import { streamCompletion } from './streaming.js';

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

export const completionsRoutes = routePlugin('mdlm-routes-completions', async (app) => {
  const context = app.mdlm;
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
});

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

