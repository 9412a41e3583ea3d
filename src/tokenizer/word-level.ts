/**
 * Word-level tokenizers for synthetic models: tests and benchmarks need a tokenizer of any
 * vocabulary size whose every id decodes to a distinct, readable word.
 */
import { ErrorCodes, MdlmError } from '../errors.js';

export const WORD_LEVEL_MIN_VOCAB_SIZE = 3;
export const WORD_LEVEL_MAX_VOCAB_SIZE = 60000;
export const WORD_LEVEL_UNK_TOKEN = '[UNK]';
export const WORD_LEVEL_MASK_TOKEN = '[MASK]';

const CONSONANTS = 'bdfghklmnprstvz';
const VOWELS = 'aeiou';
const SYLLABLE_COUNT = CONSONANTS.length * VOWELS.length;

export interface WordLevelTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/**
 * Ids: 0 = [UNK], 1..vocabSize-2 = pseudo-words, vocabSize-1 = [MASK]. The mask is a
 * declared mask token, so the spec's mask rule gives maskId = vocabSize - 1.
 */
export function buildWordLevelTokenizer(vocabSize: number): WordLevelTokenizerFiles {
  assertVocabSize(vocabSize);
  const maskId = vocabSize - 1;
  const vocab: Record<string, number> = { [WORD_LEVEL_UNK_TOKEN]: 0 };
  for (let id = 1; id < maskId; id++) {
    vocab[pseudoWord(id - 1)] = id;
  }
  vocab[WORD_LEVEL_MASK_TOKEN] = maskId;
  return {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [specialToken(0, WORD_LEVEL_UNK_TOKEN), specialToken(maskId, WORD_LEVEL_MASK_TOKEN)],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      // Without a decoder, both the Rust `tokenizers` library and tokenizers.js join the
      // tokens with single spaces, which is exactly the decoding wanted here.
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: WORD_LEVEL_UNK_TOKEN },
    },
    tokenizerConfig: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      unk_token: WORD_LEVEL_UNK_TOKEN,
      mask_token: WORD_LEVEL_MASK_TOKEN,
      clean_up_tokenization_spaces: false,
    },
  };
}

/**
 * The n-th pseudo-word (n >= 0): n written in bijective base 75 whose digits are
 * consonant-vowel syllables ("ba", "be", ..., "zu", "baba", ...). Bijective numbering
 * makes every word distinct, and fixed two-letter syllables keep them pronounceable.
 */
export function pseudoWord(n: number): string {
  let word = '';
  for (let rest = n; rest >= 0; rest = Math.floor(rest / SYLLABLE_COUNT) - 1) {
    word = syllable(rest % SYLLABLE_COUNT) + word;
  }
  return word;
}

function syllable(digit: number): string {
  return CONSONANTS.charAt(Math.floor(digit / VOWELS.length)) + VOWELS.charAt(digit % VOWELS.length);
}

function specialToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function assertVocabSize(vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < WORD_LEVEL_MIN_VOCAB_SIZE || vocabSize > WORD_LEVEL_MAX_VOCAB_SIZE) {
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `word-level vocabulary size must be an integer in [${WORD_LEVEL_MIN_VOCAB_SIZE}, ${WORD_LEVEL_MAX_VOCAB_SIZE}], got ${vocabSize}`,
      { details: { vocabSize } },
    );
  }
}
