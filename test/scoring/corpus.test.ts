/** The seed's wrapping of a corpus into rows (spec §7–§8), on hand-made documents. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wrapDocuments } from '../../src/scoring/index.js';

const BOS = 90;
const EOS = 91;

test('documents end in EOS, join into one stream, and are cut into [BOS] + piece + [EOS] rows; the remainder is dropped and counted', () => {
  const { rows, droppedTokens } = wrapDocuments([[1, 2, 3], [4, 5], [6]], 5, BOS, EOS);
  // The stream: 1 2 3 EOS 4 5 EOS 6 EOS (9 tokens); pieces of 3: [1 2 3] [EOS 4 5] [EOS 6 EOS].
  assert.deepEqual(rows.map((row) => Array.from(row)), [
    [BOS, 1, 2, 3, EOS],
    [BOS, EOS, 4, 5, EOS],
    [BOS, EOS, 6, EOS, EOS],
  ]);
  assert.equal(droppedTokens, 0);
  const short = wrapDocuments([[1, 2, 3, 4]], 5, BOS, EOS);
  assert.equal(short.rows.length, 1);
  assert.equal(short.droppedTokens, 2, 'the 4 and its EOS do not fill a second row');
  assert.deepEqual(wrapDocuments([[1]], 5, BOS, EOS), { rows: [], droppedTokens: 2 });
});
