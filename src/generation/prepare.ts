import { randomInt } from 'node:crypto';
import { ErrorCodes, fieldError, isMdlmError, refuseParam } from '../errors.js';
import { type ServedModel, servingFamilyNamed } from '../families/index.js';
import {
  type CanvasLayout,
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

/** Encodes, frames and lays out a request, and lets the model's family say how it is sampled (or refuse it, naming the field). */
export function prepareGeneration(request: GenerateRequest, tokenizer: MdlmTokenizer, model: ServedModel): PreparedGeneration {
  const { generation } = servingFamilyNamed(model.family).serving;
  const prompt = encodeFixed(tokenizer, request.prompt, 'prompt', model);
  const suffix = encodeFixed(tokenizer, request.suffix, 'suffix', model);
  const { bos, eos } = framingOf(tokenizer, request.addSpecialTokens);
  const head = generation.head(prompt, bos);
  const tail = suffix.length > 0 && eos !== undefined ? [...suffix, eos] : suffix;
  generation.refuse?.(request);
  const layout = layoutCanvas({ head, tail, windowLength: request.length, semiAr: request.semiAr, generate: request.newTokens }, model.modelLength);
  const end = request.newTokens === undefined ? layout.totalLength - tail.length : head.length + request.newTokens;
  const { steps, ...procedure } = generation.procedure(request, { layout, head }, model);
  return {
    sampling: {
      steps: steps ?? request.steps ?? GENERATION_DEFAULTS.steps,
      ...procedure,
      remask: remaskParams(procedure.sampler, request),
      temperature: request.temperature ?? GENERATION_DEFAULTS.temperature,
      topP: request.topP ?? GENERATION_DEFAULTS.topP,
      topK: request.topK ?? GENERATION_DEFAULTS.topK,
      layout,
      initial: initialCanvas(layout, head, tail, model.maskId),
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

/**
 * ReMDM's parameters with the paper's defaults, refused (naming the field) where they do not
 * apply or where some transition probability would leave [0, 1].
 */
function remaskParams(sampler: string, request: GenerateRequest): RemaskParams | undefined {
  const given = { eta: request.eta, t_on: request.tOn, t_off: request.tOff, alpha_on: request.alphaOn };
  const applies = (param: keyof typeof given) => (param === 'eta' ? isRemasking(sampler) && sampler !== 'remdm-conf' : sampler === 'remdm-loop');
  for (const param of Object.keys(given) as (keyof typeof given)[]) {
    if (given[param] !== undefined && !applies(param)) refuseParam(param, `does not apply to the ${sampler} sampler (${param === 'eta' ? 'remdm-cap, remdm-rescale and remdm-loop' : 'remdm-loop only'})`);
  }
  if (!isRemasking(sampler)) return undefined;
  const params: RemaskParams = {
    eta: request.eta ?? REMDM_DEFAULTS.eta[sampler],
    tOn: request.tOn ?? REMDM_DEFAULTS.tOn,
    tOff: request.tOff ?? REMDM_DEFAULTS.tOff,
    alphaOn: request.alphaOn ?? REMDM_DEFAULTS.alphaOn,
  };
  if (!(params.alphaOn > 0 && params.alphaOn < 1)) refuseParam('alpha_on', `must be in (0, 1), got ${params.alphaOn}`);
  if (!(params.tOff > 0 && params.tOff < params.tOn && params.tOn < 1)) refuseParam(request.tOn === undefined ? 't_off' : 't_on', `need 0 < t_off < t_on < 1, got t_off ${params.tOff} and t_on ${params.tOn}`);
  const limit = maxEta(sampler, params.alphaOn);
  if (sampler !== 'remdm-conf' && !(params.eta >= 0 && params.eta <= limit)) {
    refuseParam('eta', `must be in [0, ${limit.toPrecision(4)}] for ${sampler}${sampler === 'remdm-loop' ? ` with alpha_on ${params.alphaOn} ((1 − alpha_on)/alpha_on)` : ''}, or some transition probability leaves [0, 1]; got ${params.eta}`);
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
export function encodeFixed(
  tokenizer: MdlmTokenizer,
  input: FixedInput | undefined,
  param: string,
  facts: Pick<ServedModel, 'maskId' | 'vocabSize'>,
): number[] {
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
