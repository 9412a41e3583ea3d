/**
 * The prompts of one completion request: each is encoded once, then generates its choices
 * and, for an echo with logprobs, scores itself; all of them run together.
 */
import type { GenerateHooks, GenerateResult, GenerationService, PreparedGeneration, PreparedScore, ScoredItem } from '../../../generation/index.js';
import type { ServerContext } from '../../context.js';
import type { RunStats } from '../../plugins/request-log.js';
import { prepareWithinLimits } from '../common/limits.js';
import { type ChoiceOptions, type EchoedPrompt, echoedPrompt } from './choice.js';
import { completionRequest } from './request.js';
import type { CompletionBody, Usage } from './schemas.js';

/** One prompt of a request: its ids (encoded once), what generates its choices and what scores its echo. */
export interface PromptPlan {
  ids: number[];
  generation: PreparedGeneration | undefined;
  score: PreparedScore | undefined;
}

/** One completion request: the parts of every chunk and of the final response. */
export interface Completion {
  id: string;
  created: number;
  model: string;
  body: CompletionBody;
  options: ChoiceOptions;
  plans: PromptPlan[];
}

/** What ran for one prompt. */
export interface PromptRun {
  generation: GenerateResult | undefined;
  score: ScoredItem | undefined;
  stats: RunStats[];
}

export function planPrompt({ service, config }: ServerContext, body: CompletionBody, prompt: string | number[]): PromptPlan {
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

/** The echoed prompt of prompt p, when echo is set. */
export function echoOf(context: ServerContext, completion: Completion, p: number, run: PromptRun): EchoedPrompt | undefined {
  if (!completion.options.echo) return undefined;
  return echoedPrompt(context.service, (completion.plans[p] as PromptPlan).ids, run.score, completion.options.logprobs ?? 0);
}

/** Choice index prompt_index × n + j, in order. */
export function eachChoice<T>(completion: Completion, build: (prompt: number, sample: number) => T): T[] {
  return completion.plans.flatMap((_, p) => Array.from({ length: completion.body.n }, (__, j) => build(p, j)));
}

/**
 * Runs every prompt of a request together: its echo's score first (when logprobs need it),
 * then its generation. One failure cancels the others.
 */
export function runPrompts(context: ServerContext, plans: readonly PromptPlan[], disconnected: AbortSignal, hooksFor: (prompt: number, run: PromptRun) => GenerateHooks): Promise<PromptRun[]> {
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

export function usage(plans: readonly PromptPlan[], completionTokens: number): Usage {
  const promptTokens = plans.reduce((sum, plan) => sum + plan.ids.length, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}
