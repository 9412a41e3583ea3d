import { randomInt } from 'node:crypto';
import { ErrorCodes, fieldError, refuseParam } from '../errors.js';
import { type ScoringProcedures, type ServedModel, servingFamilyNamed } from '../families/index.js';
import type { ScoreMethod, ScoreWindow } from '../scoring/index.js';
import type { MdlmTokenizer } from '../tokenizer/index.js';
import { type FixedInput, encodeFixed, framingOf } from './prepare.js';

export const SCORE_DEFAULTS = {
  method: 'elbo' as ScoreMethod,
  /** Monte Carlo draws of t per item: enough for a usable standard error on one short text. */
  mcSamples: 16,
  antithetic: true,
} as const;

export interface ScoreItemRequest {
  /** What is scored: text, or token ids. */
  input: FixedInput;
  /** What it is conditioned on: never masked, never scored. */
  context?: FixedInput;
  /** Masked positions after the item, to the end of its window (a completion's max_tokens). */
  trailing?: number;
  /** The request field errors about this item name (default items.<index>). */
  param?: string;
}

export interface ScoreRequest {
  items: ScoreItemRequest[];
  method?: ScoreMethod;
  /** elbo: Monte Carlo draws per item. */
  mcSamples?: number;
  seed?: number;
  /** elbo: stratify the draws' times (the seed's antithetic sampling). Default true. */
  antithetic?: boolean;
  /**
   * elbo: how many consecutive items share one stratified set of times, spread over them in
   * turn (default 1: each item's own draws). The seed's ppl_eval stratifies across the rows
   * of an eval batch, one draw each.
   */
  antitheticGroup?: number;
  /** Put BOS before what is scored, as every training row begins (spec §7). Default true. */
  addSpecialTokens?: boolean;
}

export interface PreparedScore {
  items: ScoreWindow[];
  method: ScoreMethod;
  mcSamples: number;
  antithetic: boolean;
  antitheticGroup: number;
  seed: number;
}

/**
 * Encodes, frames and lays out every item, refusing what cannot be scored with the field
 * named. The model's family says which methods it scores with (the AR baseline's likelihood
 * is its own left-to-right one; it has no NELBO) and what an item needs before what is scored.
 */
export function prepareScore(request: ScoreRequest, tokenizer: MdlmTokenizer, model: ServedModel): PreparedScore {
  const { scoring } = servingFamilyNamed(model.family).serving;
  const method = request.method ?? scoring.defaultMethod;
  const refusal = scoring.refusal(method, model);
  if (refusal !== undefined) throw fieldError(ErrorCodes.unsupportedMethod, 'method', refusal);
  const { bos } = framingOf(tokenizer, request.addSpecialTokens);
  return {
    items: request.items.map((item, index) => scoreWindow(item, item.param ?? `items.${index}`, { bos, tokenizer, model, scoring })),
    method,
    mcSamples: request.mcSamples ?? SCORE_DEFAULTS.mcSamples,
    antithetic: request.antithetic ?? SCORE_DEFAULTS.antithetic,
    antitheticGroup: request.antitheticGroup ?? 1,
    seed: request.seed ?? randomInt(2 ** 32),
  };
}

interface ItemContext {
  bos: number | undefined;
  tokenizer: MdlmTokenizer;
  model: ServedModel;
  scoring: ScoringProcedures;
}

function scoreWindow(item: ScoreItemRequest, param: string, { bos, tokenizer, model, scoring }: ItemContext): ScoreWindow {
  const target = encodeFixed(tokenizer, item.input, param, model);
  if (target.length === 0) refuseParam(param, 'there is nothing to score (no tokens)');
  const given = encodeFixed(tokenizer, item.context, `${param}.context`, model);
  const context = bos === undefined ? given : [bos, ...given];
  const leading = scoring.leadingContext;
  if (leading !== undefined && context.length < leading.tokens) refuseParam(param, leading.why);
  const length = context.length + target.length + (item.trailing ?? 0);
  if (length > model.modelLength) {
    throw fieldError(
      ErrorCodes.sequenceTooLong,
      param,
      `${param}: ${length} tokens (context ${context.length}, scored ${target.length}${item.trailing ? `, trailing ${item.trailing}` : ''}) do not fit the model's window of ${model.modelLength}; split the text (mdlm eval ppl cuts a corpus into rows)`,
    );
  }
  const tokens = new Int32Array(length).fill(model.maskId);
  tokens.set(context, 0);
  tokens.set(target, context.length);
  return { tokens, start: context.length, end: context.length + target.length };
}
