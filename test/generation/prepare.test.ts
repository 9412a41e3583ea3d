/** How a request becomes what runs: encoding, defaults and the canvas, decided once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareGeneration } from '../../src/generation/prepare.js';
import { MdlmTokenizer, buildWordLevelTokenizer, pseudoWord } from '../../src/tokenizer/index.js';

const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(64);
const tokenizer = MdlmTokenizer.fromJson(tokenizerJson, tokenizerConfig);
const FACTS = { maskId: 63, modelLength: 32, timeConditioned: false, vocabSize: 64, family: 'mdlm' } as const;
const words = (...ids: number[]) => ids.map((id) => pseudoWord(id - 1)).join(' ');

test('what a request leaves out gets the paper’s settings, and a seed is chosen and reported', () => {
  const prepared = prepareGeneration({}, tokenizer, FACTS);
  const { steps, sampler, temperature, topP, topK } = prepared.sampling;
  assert.deepEqual({ steps, sampler, temperature, topP, topK, numSamples: prepared.numSamples }, { steps: 1000, sampler: 'ddpm_cache', temperature: 1, topP: 1, topK: 0, numSamples: 1 });
  assert.ok(Number.isInteger(prepared.seed) && prepared.seed >= 0);
  assert.equal(prepared.layout.totalLength, 32);
  assert.deepEqual(Array.from(prepared.sampling.initial), new Array(32).fill(63));
});

test('a prompt as text or as token ids lays out the same canvas; the suffix closes it', () => {
  const fromText = prepareGeneration({ prompt: words(5, 6), suffix: words(7), length: 8, seed: 1 }, tokenizer, FACTS);
  const fromIds = prepareGeneration({ prompt: [5, 6], suffix: [7], length: 8, seed: 1 }, tokenizer, FACTS);
  assert.deepEqual(Array.from(fromText.sampling.initial), [5, 6, 63, 63, 63, 63, 63, 7]);
  assert.deepEqual(fromIds, fromText);
  assert.deepEqual({ promptTokens: fromText.promptTokens, suffixTokens: fromText.suffixTokens, generated: fromText.generated }, { promptTokens: 2, suffixTokens: 1, generated: { start: 2, end: 7 } });
});

test('max_tokens as newTokens: the generated span is exactly those tokens after the prompt', () => {
  const prepared = prepareGeneration({ prompt: [5, 6, 7], newTokens: 4 }, tokenizer, FACTS);
  assert.equal(prepared.layout.totalLength, 7);
  assert.deepEqual(prepared.generated, { start: 3, end: 7 });
  const long = prepareGeneration({ prompt: [5], newTokens: 40 }, tokenizer, FACTS);
  assert.deepEqual({ rounds: long.layout.rounds, generated: long.generated }, { rounds: 2, generated: { start: 1, end: 41 } });
});

test('fixed tokens are refused naming the field: the mask token, and ids outside the vocabulary', () => {
  assert.throws(() => prepareGeneration({ prompt: `${words(5)} [MASK]` }, tokenizer, FACTS), { code: 'invalid_argument', details: { param: 'prompt' } });
  assert.throws(() => prepareGeneration({ suffix: [63] }, tokenizer, FACTS), { code: 'invalid_argument', details: { param: 'suffix' } });
  assert.throws(() => prepareGeneration({ prompt: [5, 64] }, tokenizer, FACTS), (error: Error & { code?: string }) => error.code === 'invalid_argument' && /token id 64 at index 1 is outside the vocabulary \[0, 64\)/.test(error.message));
  assert.throws(() => prepareGeneration({ prompt: [-1] }, tokenizer, FACTS), { code: 'invalid_argument', details: { param: 'prompt' } });
  assert.throws(() => prepareGeneration({ prompt: [2.5] }, tokenizer, FACTS), { code: 'invalid_argument', details: { param: 'prompt' } });
});

const AR = { ...FACTS, family: 'ar' } as const;
const SEDD = { ...FACTS, timeConditioned: true, family: 'sedd' } as const;

test('the AR baseline: left to right after its first token, one step per token generated; the diffusion-only fields refused by name', () => {
  const prepared = prepareGeneration({ prompt: [5, 6], length: 8 }, tokenizer, AR);
  assert.deepEqual({ sampler: prepared.sampling.sampler, steps: prepared.sampling.steps, eps: prepared.sampling.eps, generated: prepared.generated }, { sampler: 'left-to-right', steps: 6, eps: 0, generated: { start: 2, end: 8 } });
  for (const [param, request] of [['steps', { steps: 10 }], ['sampler', { sampler: 'ddpm' }], ['eta', { eta: 0.01 }], ['suffix', { suffix: [7] }], ['semi_ar', { semiAr: { strideLength: 2, numStrides: 1 } }], ['max_tokens', { newTokens: 40 }]] as const) {
    assert.throws(() => prepareGeneration({ prompt: [5], ...request }, tokenizer, AR), { code: 'invalid_argument', details: { param } });
  }
  assert.throws(() => prepareGeneration({}, tokenizer, AR), { code: 'invalid_argument', details: { param: 'prompt' } }, 'no BOS and no prompt: nothing to condition the first token on');
});

test('SEDD: analytic by default; other samplers and semi-autoregressive rounds refused by name', () => {
  assert.equal(prepareGeneration({}, tokenizer, SEDD).sampling.sampler, 'analytic');
  assert.throws(() => prepareGeneration({ sampler: 'ddpm_cache' }, tokenizer, SEDD), { code: 'invalid_argument', details: { param: 'sampler' } });
  assert.throws(() => prepareGeneration({ semiAr: { strideLength: 4, numStrides: 1 } }, tokenizer, SEDD), { code: 'invalid_argument', details: { param: 'semi_ar' } });
  assert.throws(() => prepareGeneration({ prompt: [5], newTokens: 40 }, tokenizer, SEDD), { code: 'invalid_argument', details: { param: 'max_tokens' } });
});
