/** The completion's text rules alone: choice spans, end-of-text, and what a streamed choice sends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreparedGeneration, TextSpan } from '../../src/generation/index.js';
import type { StepEvent } from '../../src/sampling/index.js';
import { type ChoiceDecoder, StreamedChoice, choiceText } from '../../src/server/completion.js';

const MASK = 0;
const EOS = 1;
/** Token t decodes to the word w<t>; 9 is the first byte of a character that needs token 8 after it. */
const WORDS = ['[MASK]', '<eos>', 'a', 'b', 'c', 'd', 'e', 'f', '\u00e9', '\ufffd'];

function decoder(): ChoiceDecoder {
  const decode = (ids: readonly number[]) => ids.map((id, k) => (id === 9 && ids[k + 1] === 8 ? '' : id === 8 && ids[k - 1] === 9 ? 'é' : WORDS[id])).join('');
  return {
    model: { modelLength: 16, vocabSize: 10, timeConditioned: false, maskId: MASK, eosId: EOS, createdAt: '' },
    text: (ids: readonly number[], span: TextSpan) => {
      const cut = span.cutAtEosFrom === undefined ? -1 : ids.indexOf(EOS, span.cutAtEosFrom);
      const end = cut === -1 || cut >= span.end ? span.end : cut;
      const kept = ids.slice(span.start, end);
      return { text: decode(kept), tokens: kept.length, cut: end !== span.end };
    },
  };
}

/** Only what a choice reads of a prepared request: where the generated tokens are. */
function prepared(start: number, end: number): PreparedGeneration {
  return { generated: { start, end } } as PreparedGeneration;
}

function step(positions: number[], tokens: number[]): StepEvent {
  return { round: 0, step: 0, t: 1, forwardPasses: 1, positions, tokens, logprobs: tokens.map(() => 0), remasked: [] };
}

test('a choice is the generated span after the prompt; stop_at_eos ends it at the first end-of-text', () => {
  const output = [2, 3, 4, 1, 5, 6];
  assert.deepEqual(choiceText(decoder(), output, prepared(2, 6), false), { text: 'c<eos>de', tokens: 4, finishReason: 'length' });
  assert.deepEqual(choiceText(decoder(), output, prepared(2, 6), true), { text: 'c', tokens: 1, finishReason: 'stop' });
  assert.deepEqual(choiceText(decoder(), output, prepared(2, 3), true), { text: 'c', tokens: 1, finishReason: 'length' }, 'an end-of-text past max_tokens does not count');
});

test('a streamed choice sends only the unmasked run after the prompt, as appends, and ends with exactly the final text', () => {
  const initial = [2, MASK, MASK, MASK, MASK, 3];
  const choice = new StreamedChoice(decoder(), initial, prepared(1, 5), false);
  const deltas = [
    choice.apply(step([4], [6])), // a gap before it: nothing is final yet
    choice.apply(step([1], [5])), // 'd' is final
    choice.apply(step([2], [9])), // the first half of a character: held back
    choice.apply(step([3], [8])), // its second half closes the gap
  ];
  assert.deepEqual(deltas, ['', 'd', '', 'ée']);
  const output = [2, 5, 9, 8, 6, 3];
  const rest = choice.finish(output);
  assert.equal(deltas.join('') + rest.delta, choiceText(decoder(), output, prepared(1, 5), false).text);
  assert.equal(rest.finishReason, 'length');
});

test('with stop_at_eos a streamed choice never sends text past the end-of-text token', () => {
  const choice = new StreamedChoice(decoder(), [2, MASK, MASK, MASK], prepared(1, 4), true);
  const sent = [choice.apply(step([1], [3])), choice.apply(step([2], [EOS])), choice.apply(step([3], [4]))].join('');
  assert.equal(sent, 'b');
  const rest = choice.finish([2, 3, EOS, 4]);
  assert.equal(rest.delta, '');
  assert.equal(rest.finishReason, 'stop');
});
