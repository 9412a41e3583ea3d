/**
 * The synthetic word-level tokenizer, and how MdlmTokenizer renders mask ids, cuts at the
 * end-of-text id and shows single positions, for word-level and byte-level tokenizers.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { MdlmTokenizer, buildWordLevelTokenizer, pseudoWord } from '../../src/tokenizer/index.js';

const GPT2_FIXTURE_DIR = fileURLToPath(new URL('../fixtures/gpt2/', import.meta.url));
const VOCAB_SIZES = [3, 4, 76, 77, 5702, 60000];

function wordLevel(vocabSize: number): MdlmTokenizer {
  const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(vocabSize);
  return MdlmTokenizer.fromJson(tokenizerJson, tokenizerConfig);
}

/** The ordinary (word) ids of a word-level tokenizer: everything but [UNK] and [MASK]. */
function wordIds(vocabSize: number): number[] {
  return Array.from({ length: vocabSize - 2 }, (_, index) => index + 1);
}

function isInvalidArgument(error: unknown): boolean {
  return error instanceof MdlmError && error.code === ErrorCodes.invalidArgument;
}

describe('buildWordLevelTokenizer', () => {
  for (const vocabSize of VOCAB_SIZES) {
    it(`vocabSize ${vocabSize}: [UNK] = 0, words, [MASK] = vocabSize - 1, and encode(decode(ids)) = ids`, () => {
      const tokenizer = wordLevel(vocabSize);
      assert.equal(tokenizer.vocabSize, vocabSize);
      assert.equal(tokenizer.maskId, vocabSize - 1);
      assert.equal(tokenizer.eosId, undefined);
      assert.deepEqual(tokenizer.decodeTokens([0]), ['[UNK]']);
      assert.deepEqual(tokenizer.encode('[MASK]'), [vocabSize - 1]);
      const ids = wordIds(vocabSize);
      assert.deepEqual(tokenizer.encode(tokenizer.decode(ids)), ids);
    });
  }

  it('gives distinct lowercase consonant-vowel words, shortest first', () => {
    const words = wordIds(60000).map((id) => pseudoWord(id - 1));
    assert.equal(new Set(words).size, words.length);
    for (const [index, word] of words.entries()) {
      assert.match(word, /^(?:[bdfghklmnprstvz][aeiou])+$/);
      assert.ok(index === 0 || word.length >= (words[index - 1] ?? '').length, `${word} is shorter than the word before it`);
    }
  });

  it('decodes each id to its word and joins words with single spaces', () => {
    const tokenizer = wordLevel(200);
    const ids = [5, 150, 1, 42];
    const words = tokenizer.decodeTokens(ids);
    assert.deepEqual(words, ids.map((id) => pseudoWord(id - 1)));
    assert.equal(tokenizer.decode(ids), words.join(' '));
  });

  it('is deterministic', () => {
    assert.deepEqual(buildWordLevelTokenizer(1000), buildWordLevelTokenizer(1000));
  });

  it('refuses words it cannot spell, naming them, instead of turning them into [UNK]; [UNK] itself is written as such', () => {
    const tokenizer = wordLevel(50);
    const known = tokenizer.decodeTokens([7])[0] ?? '';
    assert.throws(() => tokenizer.encode(`${known} qwxz ${known} zzq`), { code: 'tokenizer_error', message: /the vocabulary has no piece for "qwxz", "zzq": a word-level tokenizer would turn them into \[UNK\]/ });
    assert.deepEqual(tokenizer.encode(`${known} [UNK] ${known}`), [7, 0, 7]);
  });

  it('declares its mask and unk tokens in tokenizer_config', () => {
    const { tokenizerConfig } = buildWordLevelTokenizer(10);
    assert.equal(tokenizerConfig['mask_token'], '[MASK]');
    assert.equal(tokenizerConfig['unk_token'], '[UNK]');
  });

  for (const vocabSize of [2, 60001, 3.5, Number.NaN]) {
    it(`rejects vocabSize ${vocabSize}`, () => {
      assert.throws(() => buildWordLevelTokenizer(vocabSize), isInvalidArgument);
    });
  }
});

describe('mask handling, word-level', () => {
  const tokenizer = wordLevel(100);
  const mask = tokenizer.maskId;
  const [first, second, third] = tokenizer.decodeTokens([1, 2, 3]);

  it('renders masks in the middle, at the edges and in runs', () => {
    assert.equal(tokenizer.decode([1, mask, 2]), `${first} [MASK] ${second}`);
    assert.equal(tokenizer.decode([mask, mask, 1, 2, mask]), `[MASK] [MASK] ${first} ${second} [MASK]`);
    assert.equal(tokenizer.decode([mask]), '[MASK]');
  });

  it('uses maskText', () => {
    assert.equal(tokenizer.decode([1, mask, mask, 3], { maskText: '▢' }), `${first} ▢ ▢ ${third}`);
  });

  it('ignores stopAtEos when there is no end-of-text token', () => {
    assert.equal(tokenizer.decode([1, mask, 2], { stopAtEos: true }), tokenizer.decode([1, mask, 2]));
  });

  it('decodeTokens gives one string per position', () => {
    assert.deepEqual(tokenizer.decodeTokens([1, mask, 0, 2]), [first, '[MASK]', '[UNK]', second]);
    assert.deepEqual(tokenizer.decodeTokens([mask], { maskText: '_' }), ['_']);
  });

  it('decodes nothing to nothing', () => {
    assert.equal(tokenizer.decode([]), '');
    assert.deepEqual(tokenizer.decodeTokens([]), []);
  });

  for (const id of [-1, 100, 1.5]) {
    it(`rejects id ${id}`, () => {
      assert.throws(() => tokenizer.decode([1, id]), isInvalidArgument);
      assert.throws(() => tokenizer.decodeTokens([id]), isInvalidArgument);
    });
  }
});

describe('mask handling, GPT-2 byte-level', () => {
  let gpt2: MdlmTokenizer;
  before(async () => {
    gpt2 = await MdlmTokenizer.fromFiles(GPT2_FIXTURE_DIR);
  });

  it('puts maskText where a whole token was, leaving the neighbours as they were', () => {
    const ids = gpt2.encode('Hello world again');
    const tokens = gpt2.decodeTokens(ids);
    assert.deepEqual(tokens, ['Hello', ' world', ' again']);
    const masked = ids.map((id, index) => (index === 1 ? gpt2.maskId : id));
    assert.equal(gpt2.decode(masked), 'Hello[MASK] again');
    assert.equal(gpt2.decode(masked, { maskText: '_' }), 'Hello_ again');
  });

  it('decodes the bytes on each side of a mask on their own', () => {
    const ids = gpt2.encode('a 日本 b');
    // A mask inside a multi-byte character can only cut it; the text outside it is untouched.
    for (let index = 0; index < ids.length; index++) {
      const masked = ids.map((id, position) => (position === index ? gpt2.maskId : id));
      const expected = `${gpt2.decode(ids.slice(0, index))}[MASK]${gpt2.decode(ids.slice(index + 1))}`;
      assert.equal(gpt2.decode(masked), expected);
      assert.ok(gpt2.decode(masked).startsWith(index === 0 ? '[MASK]' : 'a'));
    }
  });

  it('keeps <|endoftext|> visible unless asked to stop there', () => {
    const ids = gpt2.encode('doc one<|endoftext|>doc two');
    const withMask = [...ids.slice(0, 1), gpt2.maskId, ...ids.slice(1)];
    assert.equal(gpt2.decode(ids), 'doc one<|endoftext|>doc two');
    assert.equal(gpt2.decode(ids, { stopAtEos: true }), 'doc one');
    assert.equal(gpt2.decode(withMask, { stopAtEos: true }), 'doc[MASK] one');
  });

  it('decodeTokens shows the mask id, which the GPT-2 vocabulary lacks', () => {
    assert.deepEqual(gpt2.decodeTokens([gpt2.maskId, gpt2.eosId ?? -1]), ['[MASK]', '<|endoftext|>']);
  });

  it('rejects ids past the mask id', () => {
    assert.throws(() => gpt2.decode([gpt2.maskId + 1]), isInvalidArgument);
  });
});
