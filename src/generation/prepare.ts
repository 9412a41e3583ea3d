import { randomInt } from 'node:crypto';
import { ErrorCodes, fieldError, isMdlmError } from '../errors.js';
import {
  type CanvasLayout,
  LEFT_TO_RIGHT,
  type ModelFacts,
  type Procedure,
  REMDM_DEFAULTS,
  type RemaskParams,
  type SamplerName,
  type SamplingParams,
  type SemiArParams,
  initialCanvas,
  isRemasking,
  layoutCanvas,
  maxEta,
} from '../sampling/index.js';
import type { MdlmTokenizer } from '../tokenizer/index.js';
import { GENERATION_DEFAULTS } from './defaults.js';

/** Text to encode, or token ids as they are. */
export type FixedInput = string | readonly number[];

/** A generation request as the service takes it: text or token ids, defaults left out. */
export interface GenerateRequest {
  /** Fixed at the start of the output: text, or token ids. */
  prompt?: FixedInput;
  /** Fixed at the end of the output: text, or token ids. */
  suffix?: FixedInput;
  /** Window length; default the model's length. */
  length?: number;
  /**
   * Instead of a length: how many tokens to generate after the prompt (a completion's
   * max_tokens). The window then fits exactly, or turns semi-autoregressive past the model's
   * length (see layoutCanvas).
   */
  newTokens?: number;
  steps?: number;
  sampler?: SamplerName;
  numSamples?: number;
  seed?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  /** ReMDM's parameters (spec §9): eta for remdm-cap, -rescale and -loop; t_on, t_off and alpha_on for remdm-loop. */
  eta?: number;
  tOn?: number;
  tOff?: number;
  alphaOn?: number;
  semiAr?: SemiArParams;
  /** Frame the prompt with BOS and the suffix with EOS, as every training row is (spec §7). Default true. */
  addSpecialTokens?: boolean;
}

/** A request encoded, completed with defaults and laid out: what limits are checked on and what runs. */
export interface PreparedGeneration {
  sampling: SamplingParams;
  numSamples: number;
  seed: number;
  layout: CanvasLayout;
  /** Tokens of the prompt and of the suffix, framing tokens not counted. */
  promptTokens: number;
  suffixTokens: number;
  /** Every fixed token of the output: prompt, suffix and framing. */
  fixedTokens: number;
  /** Output positions of the generated tokens a completion returns: [prompt end, prompt end + newTokens), or up to the suffix. */
  generated: { start: number; end: number };
}

/** The ids framing adds: BOS before a prompt, EOS after a suffix, when the tokenizer has them and the request allows it. */
export interface Framing {
  bos: number | undefined;
  eos: number | undefined;
}

export function framingOf(tokenizer: MdlmTokenizer, addSpecialTokens: boolean | undefined): Framing {
  return addSpecialTokens === false ? { bos: undefined, eos: undefined } : { bos: tokenizer.bosId, eos: tokenizer.eosId };
}

export function prepareGeneration(request: GenerateRequest, tokenizer: MdlmTokenizer, facts: ModelFacts): PreparedGeneration {
  const prompt = encodeFixed(tokenizer, request.prompt, 'prompt', facts);
  const suffix = encodeFixed(tokenizer, request.suffix, 'suffix', facts);
  // Unconditional generation stays the seed's: nothing is framed when there is nothing to frame.
  const { bos, eos } = framingOf(tokenizer, request.addSpecialTokens);
  const head = headOf(prompt, bos, facts.parameterization);
  const tail = suffix.length > 0 && eos !== undefined ? [...suffix, eos] : suffix;
  if (facts.parameterization === 'ar') refuseDiffusionFields(request);
  const layout = layoutCanvas({ head, tail, windowLength: request.length, semiAr: request.semiAr, generate: request.newTokens }, facts.modelLength);
  const end = request.newTokens === undefined ? layout.totalLength - tail.length : head.length + request.newTokens;
  const sampler = procedureOf(request, layout, facts);
  return {
    sampling: {
      steps: sampler === LEFT_TO_RIGHT ? layout.totalLength - head.length : (request.steps ?? GENERATION_DEFAULTS.steps),
      sampler,
      remask: remaskParams(sampler, request),
      temperature: request.temperature ?? GENERATION_DEFAULTS.temperature,
      topP: request.topP ?? GENERATION_DEFAULTS.topP,
      topK: request.topK ?? GENERATION_DEFAULTS.topK,
      layout,
      initial: initialCanvas(layout, head, tail, facts.maskId),
      // Left to right, the grid's t is exactly the share of the tokens still to generate.
      ...(sampler === LEFT_TO_RIGHT && { eps: 0 }),
    },
    numSamples: request.numSamples ?? GENERATION_DEFAULTS.numSamples,
    seed: request.seed ?? randomInt(2 ** 32),
    layout,
    promptTokens: prompt.length,
    suffixTokens: suffix.length,
    fixedTokens: head.length + tail.length,
    generated: { start: head.length, end },
  };
}

const refuse = (param: string, message: string): never => {
  throw fieldError(ErrorCodes.invalidArgument, param, `${param}: ${message}`);
};

/**
 * The fixed start of the output. The AR baseline predicts each token from those before it,
 * so it needs a first one: BOS, as the seed's `_ar_sampler` starts every sample, or the
 * prompt's first token when there is no BOS.
 */
function headOf(prompt: number[], bos: number | undefined, parameterization: ModelFacts['parameterization']): number[] {
  if (parameterization === 'ar') {
    if (bos !== undefined) return [bos, ...prompt];
    if (prompt.length === 0) refuse('prompt', 'an autoregressive model needs a first token to condition on: this tokenizer has no BOS (or add_special_tokens is false), so give a prompt');
    return prompt;
  }
  return prompt.length > 0 && bos !== undefined ? [bos, ...prompt] : prompt;
}

/**
 * What an AR model cannot do: it generates one token per pass, left to right, within its
 * window. Steps, samplers and ReMDM's parameters belong to the reverse diffusion process; a
 * suffix would need the tokens after it; semi-autoregressive rounds are a diffusion model's
 * way past its window.
 */
function refuseDiffusionFields(request: GenerateRequest): void {
  const diffusionOnly = { steps: request.steps, sampler: request.sampler, eta: request.eta, t_on: request.tOn, t_off: request.tOff, alpha_on: request.alphaOn };
  for (const [param, value] of Object.entries(diffusionOnly)) {
    if (value !== undefined) refuse(param, 'does not apply to an autoregressive model, which generates one token per forward pass, left to right');
  }
  if (request.suffix !== undefined && request.suffix.length > 0) refuse('suffix', 'an autoregressive model generates left to right and cannot fill in before a suffix');
  if (request.semiAr !== undefined) refuse('semi_ar', "semi-autoregressive rounds are a diffusion model's; an autoregressive model generates within its window");
}

/**
 * The sampling procedure: left to right for the AR baseline; SEDD's own analytic sampler for
 * a SEDD model (the seed's other samplers read SUBS probabilities, which SEDD's log scores are
 * not, and its semi-autoregressive rounds are SUBS steps); any sampler for MDLM.
 */
function procedureOf(request: GenerateRequest, layout: CanvasLayout, facts: ModelFacts): Procedure {
  if (facts.parameterization === 'ar') {
    if (layout.rounds > 1) refuse(request.newTokens === undefined ? 'length' : 'max_tokens', `an autoregressive model generates within its window of ${facts.modelLength} tokens: the prompt and the tokens to generate must fit it`);
    return LEFT_TO_RIGHT;
  }
  if (facts.parameterization === 'sedd') {
    const sampler = request.sampler ?? 'analytic';
    if (sampler !== 'analytic') refuse('sampler', `a SEDD model samples with analytic, its own predictor (the other samplers read SUBS probabilities, which SEDD's log scores are not), not ${sampler}`);
    if (layout.rounds > 1) refuse(request.semiAr === undefined ? 'max_tokens' : 'semi_ar', `the seed's semi-autoregressive rounds are SUBS (MDLM) steps; a SEDD model generates within its window of ${facts.modelLength} tokens`);
    return sampler;
  }
  return request.sampler ?? GENERATION_DEFAULTS.sampler;
}

/**
 * ReMDM's parameters with the paper's defaults, refused (naming the field) where they do not
 * apply or where some transition probability would leave [0, 1].
 */
function remaskParams(sampler: Procedure, request: GenerateRequest): RemaskParams | undefined {
  const given = { eta: request.eta, t_on: request.tOn, t_off: request.tOff, alpha_on: request.alphaOn };
  const applies = (param: keyof typeof given) => (param === 'eta' ? isRemasking(sampler) && sampler !== 'remdm-conf' : sampler === 'remdm-loop');
  for (const param of Object.keys(given) as (keyof typeof given)[]) {
    if (given[param] !== undefined && !applies(param)) refuse(param, `does not apply to the ${sampler} sampler (${param === 'eta' ? 'remdm-cap, remdm-rescale and remdm-loop' : 'remdm-loop only'})`);
  }
  if (!isRemasking(sampler)) return undefined;
  const params: RemaskParams = {
    eta: request.eta ?? REMDM_DEFAULTS.eta[sampler],
    tOn: request.tOn ?? REMDM_DEFAULTS.tOn,
    tOff: request.tOff ?? REMDM_DEFAULTS.tOff,
    alphaOn: request.alphaOn ?? REMDM_DEFAULTS.alphaOn,
  };
  if (!(params.alphaOn > 0 && params.alphaOn < 1)) refuse('alpha_on', `must be in (0, 1), got ${params.alphaOn}`);
  if (!(params.tOff > 0 && params.tOff < params.tOn && params.tOn < 1)) refuse(request.tOn === undefined ? 't_off' : 't_on', `need 0 < t_off < t_on < 1, got t_off ${params.tOff} and t_on ${params.tOn}`);
  const limit = maxEta(sampler, params.alphaOn);
  if (sampler !== 'remdm-conf' && !(params.eta >= 0 && params.eta <= limit)) {
    refuse('eta', `must be in [0, ${limit.toPrecision(4)}] for ${sampler}${sampler === 'remdm-loop' ? ` with alpha_on ${params.alphaOn} ((1 − alpha_on)/alpha_on)` : ''}, or some transition probability leaves [0, 1]; got ${params.eta}`);
  }
  return params;
}

/** Text as ids, a tokenizer's refusal naming the field it came from. */
export function encodeNaming(tokenizer: MdlmTokenizer, text: string, param: string): number[] {
  try {
    return tokenizer.encode(text);
  } catch (error) {
    throw isMdlmError(error) ? fieldError(error.code, param, `${param}: ${error.message}`) : error;
  }
}

/** Fixed tokens, refusing ids outside the vocabulary and the mask token (only the sampler may place it). */
export function encodeFixed(tokenizer: MdlmTokenizer, input: FixedInput | undefined, param: string, facts: Pick<ModelFacts, 'maskId' | 'vocabSize'>): number[] {
  if (input === undefined || input === '') return [];
  const ids = typeof input === 'string' ? encodeNaming(tokenizer, input, param) : [...input];
  const outside = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= facts.vocabSize);
  if (outside !== -1) {
    throw fieldError(ErrorCodes.invalidArgument, param, `${param}: token id ${ids[outside]} at index ${outside} is outside the vocabulary [0, ${facts.vocabSize})`);
  }
  if (ids.includes(facts.maskId)) {
    throw fieldError(ErrorCodes.invalidArgument, param, `the ${param} contains the mask token, which only the sampler may place`);
  }
  return ids;
}
