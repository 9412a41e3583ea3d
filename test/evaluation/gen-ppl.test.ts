import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanUpTokenizationSpaces, countedPositions, generativePerplexity, retokenize, scoringWindows, unigramEntropy } from '../../src/evaluation/gen-ppl.js';

const E = 9; // EOS in these hand-made rows; ordinary tokens are 1..8

/** The targets a window scores, as (position → target) pairs. */
function scored(rows: number[][], context: number): { row: number; tokens: number[]; targets: [number, number][] }[] {
  return scoringWindows(rows, { context, eosId: E }).map((window) => ({
    row: window.row,
    tokens: Array.from(window.tokens),
    targets: Array.from(window.positions, (p, k): [number, number] => [p, window.targets[k] as number]),
  }));
}

test('a target counts when it is not EOS or is the first EOS of its chunk; the first token is never a target', () => {
  assert.deepEqual(countedPositions([1, 2, 3], E), [0, 1]);
  assert.deepEqual(countedPositions([1, E, 2, E, E], E), [0, 1], 'only the first of several EOS');
  assert.deepEqual(countedPositions([E, 1, E, 2], E), [0, 2], 'an EOS at position 0 is the first EOS, so no later EOS counts');
  assert.deepEqual(countedPositions([E, E, E], E), []);
  assert.deepEqual(countedPositions([4], E), []);
});

test('padding goes to the longest row: a shorter row without EOS gets one counted pad EOS, the longest row none', () => {
  assert.deepEqual(scored([[1, 2, 3], [1, 2, 3, 4, 5]], 8), [
    { row: 0, tokens: [1, 2, 3], targets: [[0, 2], [1, 3], [2, E]] },
    { row: 1, tokens: [1, 2, 3, 4], targets: [[0, 2], [1, 3], [2, 4], [3, 5]] },
  ]);
  assert.deepEqual(scored([[1, 2, 3]], 8), [{ row: 0, tokens: [1, 2], targets: [[0, 2], [1, 3]] }], 'alone, the same row is the longest and gets no pad');
  assert.deepEqual(scored([[1, E, 2], [1, 2, 3, 4, 5]], 8)[0], { row: 0, tokens: [1, E], targets: [[0, E], [1, 2]] }, 'a row with its own EOS: padding never counts');
});

test('chunks start afresh: their first token is not scored, and each chunk has its own first EOS', () => {
  assert.deepEqual(scored([[1, 2, 3, 4, 5, 6, 7]], 4), [
    { row: 0, tokens: [1, 2, 3], targets: [[0, 2], [1, 3], [2, 4]] },
    { row: 0, tokens: [5, 6], targets: [[0, 6], [1, 7]] },
  ]);
  assert.deepEqual(scored([[1, E, 3, 4, 5, E, 7, 8]], 4), [
    { row: 0, tokens: [1, E, 3], targets: [[0, E], [1, 3], [2, 4]] },
    { row: 0, tokens: [5, E, 7], targets: [[0, E], [1, 7], [2, 8]] },
  ]);
  assert.deepEqual(scored([[1, 2, 3, 4, E, 6, 7, 8]], 4)[1], { row: 0, tokens: [E, 6, 7], targets: [[0, 6], [1, 7], [2, 8]] }, 'an EOS at a chunk start is never a target');
});

test('a chunk with nothing counted is left out: padding that starts at a chunk boundary, chunks of padding alone', () => {
  const windows = scored([[1, 2, 3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 1, 2]], 4);
  assert.deepEqual(windows.filter((window) => window.row === 0), [{ row: 0, tokens: [1, 2, 3], targets: [[0, 2], [1, 3], [2, 4]] }], 'its pad EOS opens chunk 1: never a target');
  assert.equal(windows.filter((window) => window.row === 1).length, 3);
  assert.deepEqual(scored([[1], [1, 2, 3, 4, 5, 6, 7, 8, 1]], 4)[0], { row: 0, tokens: [1], targets: [[0, E]] }, 'a one-token row scores only its first pad EOS');
  assert.deepEqual(scored([[], [1, 2]], 4).map((window) => window.row), [1], 'an empty row scores nothing');
});

test('the seed\'s decode clean-up (transformers clean_up_tokenization), and truncation at the MDLM length', async () => {
  assert.equal(cleanUpTokenizationSpaces("Hello , world . It 's fine ? Yes ! I do n't , they 're , we 've , I 'm , a ' b"), "Hello, world. It's fine? Yes! I don't, they're, we've, I'm, a'b");
  assert.equal(cleanUpTokenizationSpaces('<|endoftext|> The end .<|endoftext|>'), '<|endoftext|> The end.<|endoftext|>');
  assert.deepEqual(await retokenize(['abcdef', 'ab'], (text) => Array.from(text, (c) => c.charCodeAt(0)), 3), [[97, 98, 99], [97, 98]]);
});

test('gen PPL is exp of the mean counted nll; unigram entropy is in nats', () => {
  assert.ok(Math.abs(generativePerplexity(4 * Math.log(10), 4) - 10) < 1e-12);
  assert.ok(Math.abs(unigramEntropy([1, 1, 2, 2]) - Math.log(2)) < 1e-12);
  assert.ok(Math.abs(unigramEntropy([1, 2, 3, 4]) - Math.log(4)) < 1e-12);
  assert.equal(unigramEntropy([5, 5, 5]), 0);
  const skewed = [1, 1, 1, 2];
  assert.ok(Math.abs(unigramEntropy(skewed) - -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))) < 1e-12);
});
