/**
 * The sampling parameters every generation request takes: /v1/generate, /v1/completions,
 * the WebSocket's generate message and `mdlm generate`.
 */
import { z } from 'zod';
import { GENERATION_DEFAULTS, type GenerateRequest } from '../generation/index.js';
import { REMDM_DEFAULTS, SAMPLERS } from '../sampling/index.js';
import { count } from './fields.js';
import { type Param, type RequestBounds, group, httpShape } from './params.js';

/** A sanity bound: past it every token is close to uniform noise. */
const MAX_TEMPERATURE = 100;

/** Seeds are any non-negative safe integer (src/random.ts folds them). */
const Seed = count().max(Number.MAX_SAFE_INTEGER).describe('Random seed: the same seed and request give the same output. Random when absent; the response says which was used.');

const SAMPLER_DESCRIPTION =
  'ddpm runs a forward pass every step; ddpm_cache only on steps that unmask something (same distribution, far fewer passes); analytic is ddpm with a noise removal that samples; remdm-cap, remdm-rescale, remdm-loop and remdm-conf remask (ReMDM).';
const ETA_DEFAULTS = [REMDM_DEFAULTS.eta['remdm-cap'], REMDM_DEFAULTS.eta['remdm-rescale'], REMDM_DEFAULTS.eta['remdm-loop']];

export const SAMPLING_PARAMS = {
  suffix: {
    field: () => z.string().optional().describe('Text fixed at the end of the output: the model fills in between prompt and suffix.'),
    flag: { value: '<text>', help: 'text the output ends with (infilling between prompt and suffix)' },
  },
  steps: {
    field: (bounds) => count(1).max(bounds.limits.maxSteps).optional().describe(`Reverse-process steps per round (default ${GENERATION_DEFAULTS.steps}).`),
    flag: { value: '<n>', help: `denoising steps T (default ${GENERATION_DEFAULTS.steps}; an autoregressive model takes none: one step per token)` },
  },
  sampler: {
    field: () => z.enum(SAMPLERS).optional().describe(`${SAMPLER_DESCRIPTION} Default ${GENERATION_DEFAULTS.sampler}.`),
    flag: { value: '<name>', help: `${SAMPLERS.join(', ')} (default ${GENERATION_DEFAULTS.sampler}; analytic for SEDD; none for an autoregressive model)` },
  },
  eta: {
    field: () =>
      z
        .number()
        .min(0)
        .optional()
        .describe(`ReMDM's remasking rate for remdm-cap, remdm-rescale and remdm-loop (defaults ${ETA_DEFAULTS.join(', ')}); at most 1, or (1 − alpha_on)/alpha_on for remdm-loop.`),
    flag: { value: '<x>', help: `ReMDM remasking rate (remdm-cap ${ETA_DEFAULTS[0]}, remdm-rescale ${ETA_DEFAULTS[1]}, remdm-loop ${ETA_DEFAULTS[2]})` },
  },
  tOn: {
    field: () => z.number().gt(0).lt(1).optional().describe(`remdm-loop: the loop phase starts at t_on (default ${REMDM_DEFAULTS.tOn}).`),
    flag: { value: '<t>', help: `remdm-loop: start of the loop phase (default ${REMDM_DEFAULTS.tOn})` },
  },
  tOff: {
    field: () => z.number().gt(0).lt(1).optional().describe(`remdm-loop: and ends at t_off (default ${REMDM_DEFAULTS.tOff}).`),
    flag: { value: '<t>', help: `remdm-loop: end of the loop phase (default ${REMDM_DEFAULTS.tOff})` },
  },
  alphaOn: {
    field: () => z.number().gt(0).lt(1).optional().describe(`remdm-loop: α held during the loop (default ${REMDM_DEFAULTS.alphaOn}).`),
    flag: { value: '<a>', help: `remdm-loop: alpha held during the loop (default ${REMDM_DEFAULTS.alphaOn})` },
  },
  seed: {
    field: () => Seed.optional(),
    flag: { value: '<n>', help: 'random seed (default: random, printed with --json)' },
  },
  temperature: {
    field: () =>
      z.number().min(0).max(MAX_TEMPERATURE).optional().describe(`Sampling temperature, dividing the logits before SUBS; 0 is greedy. Default ${GENERATION_DEFAULTS.temperature}.`),
    flag: { value: '<x>', help: 'divides the logits before SUBS: 1 reproduces the paper; 0 is greedy', default: String(GENERATION_DEFAULTS.temperature) },
  },
  topP: {
    field: () =>
      z
        .number()
        .gt(0)
        .max(1)
        .optional()
        .describe('Nucleus sampling: keep the most likely tokens whose mass is within top_p (at least one), after temperature and top_k. 1 (the default) is off.'),
    flag: { value: '<p>', help: 'nucleus sampling: keep the most likely tokens within mass p (1: off)' },
  },
  topK: {
    field: () => count(0).optional().describe('Keep only the top_k most likely tokens at each draw. 0 (the default) is off.'),
    flag: { value: '<k>', help: 'keep the k most likely tokens at each draw (0: off)' },
  },
  semiAr: group(
    {
      strideLength: {
        field: (bounds) => count(1).max(bounds.modelLength).describe('tokens each round adds (at most the window length)'),
        flag: { value: '<n>', help: 'semi-autoregressive: tokens emitted per round' },
      },
      numStrides: {
        field: (bounds) => count(0).max(bounds.limits.maxStrides).describe('rounds after the first; the output has length + num_strides × stride_length tokens'),
        flag: { value: '<n>', help: 'semi-autoregressive: rounds after the first (output L + n·s tokens)' },
      },
    },
    'Semi-autoregressive generation past the window: round r denoises the window starting at r × stride_length, keeping what earlier rounds wrote.',
  ),
  addSpecialTokens: {
    field: () =>
      z
        .boolean()
        .optional()
        .describe("Frame a prompt with the tokenizer's BOS and a suffix with its EOS, as every training row is (default true; tokenizers without them are unaffected)."),
    flag: { name: 'no-special-tokens', help: 'do not frame the prompt with BOS and the suffix with EOS' },
  },
} satisfies { [Name in keyof GenerateRequest]?: Param };

/** The sampling fields of a request body, in the order the API documents them. */
export function samplingFields(bounds: RequestBounds) {
  return httpShape(SAMPLING_PARAMS, bounds);
}
