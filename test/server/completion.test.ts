/** The completion's text rules alone: choice spans, end-of-text, stop sequences, logprobs, and what a streamed choice sends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GeneratedSample, PreparedGeneration, TextSpan } from '../../src/generation/index.js';
import type { StepEvent } from '../../src/sampling/index.js';
import { type ChoiceDecoder, type ChoiceOptions, StreamedChoice, finishedChoice, firstStop } from '../../src/server/routes/completions/choice.js';

const MASK = 0;
const EOS = 1;
/** Token t decodes to WORDS[t]; 9 then 8 are the two halves of 'é' (9 alone is U+FFFD). */
const WORDS = ['[MASK]', '<eos>', 'a', 'b', 'c', 'd', 'e', 'f', '', '\ufffd'];

function decodeIds(ids: readonly number[]): string {
  return ids.map((id, k) => (id === 9 && ids[k + 1] === 8 ? 'é' : id === 8 && ids[k - 1] === 9 ? '' : WORDS[id])).join('');
}

function decoder(): ChoiceDecoder {
  return {
    model: { modelLength: 16, vocabSize: 10, timeConditioned: false, parameterization: 'subs', maskId: MASK, eosId: EOS, bosId: undefined, createdAt: '' },
    decode: (ids: readonly number[]) => decodeIds(ids),
    pieces: (ids: readonly number[]) => {
      const pieces = ids.map((id) => WORDS[id] as string);
      const offsets = pieces.map((_, k) => pieces.slice(0, k).join('').length);
      return { pieces, offsets };
    },
    text: (ids: readonly number[], span: TextSpan) => {
      const cut = span.cutAtEosFrom === undefined ? -1 : ids.indexOf(EOS, span.cutAtEosFrom);
      const end = cut === -1 || cut >= span.end ? span.end : cut;
      const kept = ids.slice(span.start, end);
      return { text: decodeIds(kept), tokens: kept.length, cut: end !== span.end };
    },
  };
}

/** Only what a choice reads of a prepared request: where the generated tokens are. */
function prepared(start: number, end: number): PreparedGeneration {
  return { generated: { start, end } } as PreparedGeneration;
}

/** A finished sample whose token at position p was drawn with log-probability −p/10, alternatives [p, 2] at −0.1 and −0.2. */
function sample(tokenIds: number[]): GeneratedSample {
  const width = 2;
  return {
    tokenIds,
    logprobs: Float32Array.from(tokenIds, (_, p) => -p / 10),
    topTokens: Int32Array.from({ length: tokenIds.length * width }, (_, i) => (i % width === 0 ? 2 + (i / width) % 8 : 2)),
    topLogprobs: Float32Array.from({ length: tokenIds.length * width }, (_, i) => (i % width === 0 ? -0.1 : -0.2)),
    topWidth: width,
    forwardPasses: 1,
  };
}

function options(overrides: Partial<ChoiceOptions> = {}): ChoiceOptions {
  return { stopAtEos: false, stop: [], logprobs: undefined, echo: false, ...overrides };
}

function step(positions: number[], tokens: number[]): StepEvent {
  return { round: 0, step: 0, t: 1, forwardPasses: 1, positions, tokens, logprobs: tokens.map(() => -1), top: { tokens: tokens.flatMap((token) => [token, 3]), logprobs: tokens.flatMap(() => [-1, -2]), width: 2 }, remasked: [], settled: true };
}

test('a choice is the generated span after the prompt; stop_at_eos ends it at the first end-of-text', () => {
  const output = sample([2, 3, 4, 1, 5, 6]);
  assert.deepEqual(finishedChoice(decoder(), output, prepared(2, 6), options(), undefined), { text: 'c<eos>de', tokens: 4, finishReason: 'length', logprobs: null });
  assert.equal(finishedChoice(decoder(), output, prepared(2, 6), options({ stopAtEos: true }), undefined).finishReason, 'stop');
  assert.equal(finishedChoice(decoder(), output, prepared(2, 6), options({ stopAtEos: true }), undefined).text, 'c');
  assert.equal(finishedChoice(decoder(), output, prepared(2, 3), options({ stopAtEos: true }), undefined).finishReason, 'length', 'an end-of-text past max_tokens does not count');
});

test('a choice ends just before the earliest stop sequence; the token it begins in is the last one with logprobs', () => {
  assert.equal(firstStop('abcde', ['de', 'bc']), 1);
  assert.equal(firstStop('abcde', ['x']), undefined);
  const choice = finishedChoice(decoder(), sample([2, 3, 4, 5, 6, 7]), prepared(1, 6), options({ stop: ['de'], logprobs: 1 }), undefined);
  assert.equal(choice.text, 'bc');
  assert.equal(choice.finishReason, 'stop');
  assert.deepEqual(choice.logprobs?.tokens, ['b', 'c']);
  assert.deepEqual(choice.logprobs?.token_logprobs.map((value) => Number(value?.toFixed(3))), [-0.1, -0.2]);
  assert.deepEqual(choice.logprobs?.text_offset, [0, 1]);
  assert.deepEqual(choice.logprobs?.top_logprobs[0], { b: Math.fround(-0.1) }, 'logprobs: 1 gives the top alternative only');
});

test('echo puts the prompt before the text, with its left-to-right logprobs when given', () => {
  const echo = { ids: [2, 3], logprobs: [null, -0.5], top: [null, { b: -0.5 }] };
  const choice = finishedChoice(decoder(), sample([2, 3, 4, 5]), prepared(2, 4), options({ echo: true, logprobs: 1 }), echo);
  assert.equal(choice.text, 'abcd');
  assert.deepEqual(choice.logprobs?.tokens, ['a', 'b', 'c', 'd']);
  assert.deepEqual(choice.logprobs?.token_logprobs.slice(0, 2), [null, -0.5]);
  assert.deepEqual(choice.logprobs?.text_offset, [0, 1, 2, 3]);
  assert.equal(choice.tokens, 2, 'only generated tokens count as completion tokens');
});

test('a streamed choice sends only the unmasked run after the prompt, as appends, and ends with exactly the final text', () => {
  const initial = [2, MASK, MASK, MASK, MASK, 3];
  const choice = new StreamedChoice(decoder(), initial, prepared(1, 5), options({ logprobs: 1 }));
  const chunks = [
    choice.apply(step([4], [6])), // a gap before it: nothing is final yet
    choice.apply(step([1], [5])), // 'd' is final
    choice.apply(step([2], [9])), // the first half of a character: held back
    choice.apply(step([3], [8])), // its second half closes the gap
  ];
  assert.deepEqual(chunks.map((chunk) => chunk?.text), [undefined, 'd', undefined, 'ée']);
  assert.deepEqual(chunks[1]?.logprobs?.tokens, ['d']);
  assert.deepEqual(chunks[3]?.logprobs?.tokens, ['\ufffd', '', 'e'], 'the held-back token goes with the chunk that completes it');
  const final = sample([2, 5, 9, 8, 6, 3]);
  const rest = choice.finish(final);
  assert.equal(chunks.map((chunk) => chunk?.text ?? '').join('') + rest.delta.text, finishedChoice(decoder(), final, prepared(1, 5), options(), undefined).text);
  assert.equal(rest.finishReason, 'length');
});

test('streaming never sends text past a stop sequence, nor the start of one before it is known', () => {
  const choice = new StreamedChoice(decoder(), [2, MASK, MASK, MASK, MASK], prepared(1, 5), options({ stop: ['cd'] }));
  const sent = [choice.apply(step([1], [3])), choice.apply(step([2], [4])), choice.apply(step([3], [5])), choice.apply(step([4], [6]))];
  assert.deepEqual(sent.map((chunk) => chunk?.text), ['b', undefined, undefined, undefined], "'c' may begin 'cd': held back, then cut");
  const rest = choice.finish(sample([2, 3, 4, 5, 6]));
  assert.equal(rest.delta.text, '');
  assert.equal(rest.finishReason, 'stop');
});

test('with stop_at_eos a streamed choice never sends text past the end-of-text token', () => {
  const choice = new StreamedChoice(decoder(), [2, MASK, MASK, MASK], prepared(1, 4), options({ stopAtEos: true }));
  const sent = [choice.apply(step([1], [3])), choice.apply(step([2], [EOS])), choice.apply(step([3], [4]))].map((chunk) => chunk?.text ?? '').join('');
  assert.equal(sent, 'b');
  const rest = choice.finish(sample([2, 3, EOS, 4]));
  assert.equal(rest.delta.text, '');
  assert.equal(rest.finishReason, 'stop');
});
