/**
 * The tokenizer as the rest of the server sees it: text <-> ids, plus the two ids MDLM
 * needs (spec §1): the mask id, which the tokenizer itself may not know, and the
 * end-of-text id that separates documents.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';

export { GPT2_TOKENIZER_REPO, buildGpt2TokenizerConfig, buildGpt2TokenizerJson } from './gpt2-assets.js';
export { buildWordLevelTokenizer, pseudoWord } from './word-level.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const DEFAULT_MASK_TEXT = '[MASK]';

/**
 * `transformers` tokenizer classes give their mask token a default name (BERT family:
 * "[MASK]", RoBERTa/BART family: "<mask>"), so a tokenizer_config may leave it out.
 */
const CONVENTIONAL_MASK_TOKENS = ['[MASK]', '<mask>'];

export interface DecodeOptions {
  /** Drop the first end-of-text id and everything after it. Default false. */
  stopAtEos?: boolean;
  /** How a mask id is rendered. Default "[MASK]". */
  maskText?: string;
}

/** tokenizer_config.json may name a token as a string or as a serialized AddedToken. */
const tokenNameSchema = z
  .union([z.string(), z.looseObject({ content: z.string() }).transform((token) => token.content), z.null()])
  .optional()
  .transform((name) => name ?? undefined);

const tokenizerConfigSchema = z.looseObject({
  bos_token: tokenNameSchema,
  eos_token: tokenNameSchema,
  unk_token: tokenNameSchema,
  pad_token: tokenNameSchema,
  mask_token: tokenNameSchema,
  tokenizer_class: z.string().optional(),
});
type TokenizerConfig = z.infer<typeof tokenizerConfigSchema>;

const tokenizerJsonSchema = z.looseObject({
  /** A word-level or WordPiece model's stand-in for text it has no piece for; byte-level BPE has none. */
  model: z.looseObject({ unk_token: z.string().nullish() }),
  added_tokens: z.array(
    z.looseObject({ id: z.number().int().nonnegative(), content: z.string(), special: z.boolean().optional() }),
  ),
});
type TokenizerJson = z.infer<typeof tokenizerJsonSchema>;

/** GPT-2's pre-tokenization regex, as the Rust `tokenizers` ByteLevel pre-tokenizer runs it. */
const BYTE_LEVEL_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A ByteLevel pre-tokenizer that splits with BYTE_LEVEL_PATTERN and adds no space in front. */
const regexByteLevelSchema = z.looseObject({
  type: z.literal('ByteLevel'),
  add_prefix_space: z.literal(false),
  use_regex: z.literal(true).optional(),
});

/**
 * The part of tokenizers.js' Tokenizer used here. Its bundled .d.ts files import each
 * other without file extensions, which NodeNext resolution rejects, so TypeScript would
 * otherwise see the class as `any`.
 */
interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
}

interface Sources {
  tokenizerJson: string;
  tokenizerConfig: string;
}

export class MdlmTokenizer {
  /** Number of ids the tokenizer knows, added tokens included. */
  readonly vocabSize: number;
  readonly maskId: number;
  readonly eosId: number | undefined;
  /** The token every training row starts with (GPT-2: <|endoftext|>), when the tokenizer declares one. */
  readonly bosId: number | undefined;
  /** The special tokens tokenizer_config.json names, as text (what /tokenizer_info reports). */
  readonly specialTokens: { bos?: string; eos?: string; unk?: string; pad?: string; mask?: string };
  /** tokenizer_config.json's tokenizer_class, e.g. GPT2Tokenizer. */
  readonly tokenizerClass: string | undefined;
  /** The id text becomes when the vocabulary has no piece for it (word-level models), if the model has one. */
  private readonly unknownId: number | undefined;
  /** What the tokenizer writes between two tokens: "" for byte-level BPE, " " for word-level. */
  private readonly tokenSeparator: string;

  private constructor(private readonly tokenizer: HfTokenizer, config: TokenizerConfig, json: TokenizerJson, sources: Sources) {
    this.vocabSize = contiguousVocabSize(tokenizer, sources.tokenizerJson);
    this.maskId = resolveMaskId(tokenizer, config, this.vocabSize, sources.tokenizerConfig);
    this.eosId =
      config.eos_token === undefined ? undefined : requireTokenId(tokenizer, config.eos_token, 'eos_token', sources.tokenizerConfig);
    this.bosId =
      config.bos_token === undefined ? undefined : requireTokenId(tokenizer, config.bos_token, 'bos_token', sources.tokenizerConfig);
    this.specialTokens = { bos: config.bos_token, eos: config.eos_token, unk: config.unk_token, pad: config.pad_token, mask: config.mask_token };
    this.tokenizerClass = config.tokenizer_class;
    const unknown = json.model.unk_token ?? undefined;
    this.unknownId = unknown === undefined ? undefined : tokenizer.token_to_id(unknown);
    this.tokenSeparator = measureTokenSeparator(tokenizer);
  }

  static async fromFiles(dir: string): Promise<MdlmTokenizer> {
    const sources = { tokenizerJson: join(dir, TOKENIZER_FILE), tokenizerConfig: join(dir, TOKENIZER_CONFIG_FILE) };
    const [tokenizerJson, tokenizerConfig] = await Promise.all([
      readJsonFile(sources.tokenizerJson),
      readJsonFile(sources.tokenizerConfig),
    ]);
    return MdlmTokenizer.create(tokenizerJson, tokenizerConfig, sources);
  }

  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown): MdlmTokenizer {
    return MdlmTokenizer.create(tokenizerJson, tokenizerConfig, {
      tokenizerJson: TOKENIZER_FILE,
      tokenizerConfig: TOKENIZER_CONFIG_FILE,
    });
  }

  private static create(tokenizerJson: unknown, tokenizerConfig: unknown, sources: Sources): MdlmTokenizer {
    const json = parseWith(tokenizerJsonSchema, tokenizerJson, sources.tokenizerJson);
    const config = parseWith(tokenizerConfigSchema, tokenizerConfig, sources.tokenizerConfig);
    return new MdlmTokenizer(loadTokenizer(json, config, sources.tokenizerJson), config, json, sources);
  }

  /**
   * Ids of `text` with no special tokens added; an added token written in the text (e.g.
   * <|endoftext|>) becomes its id. Text the vocabulary cannot spell is refused rather than
   * silently turned into the unknown token: a model fed [UNK] sees something else than was written.
   */
  encode(text: string): number[] {
    const { ids } = this.tokenizer.encode(text, { add_special_tokens: false });
    // tokenizers.js yields undefined for a piece missing from a vocabulary that has no unk token.
    if (!ids.every((id) => Number.isInteger(id))) {
      throw new MdlmError(ErrorCodes.tokenizerError, 'text contains pieces the tokenizer cannot encode, and it has no unk token');
    }
    if (this.unknownId !== undefined && ids.includes(this.unknownId)) this.refuseUnknown(text);
    return ids;
  }

  private refuseUnknown(text: string): void {
    const unknownToken = this.tokenizer.id_to_token(this.unknownId as number);
    const words = text.split(/\s+/).filter((word) => word !== '' && word !== unknownToken);
    const missing = words.filter((word) => this.tokenizer.encode(word, { add_special_tokens: false }).ids.includes(this.unknownId as number));
    if (missing.length === 0) return;
    const shown = missing.slice(0, 5).map((word) => JSON.stringify(word)).join(', ');
    throw new MdlmError(ErrorCodes.tokenizerError, `the vocabulary has no piece for ${shown}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}: a word-level tokenizer would turn them into ${unknownToken}`, {
      details: { unknown: missing },
    });
  }

  /**
   * Text of `ids`. Runs of ordinary ids are decoded separately and mask ids rendered as
   * `maskText` between them, so a mask never splits or corrupts a neighbour's bytes.
   * Special tokens such as <|endoftext|> stay visible: they mark document boundaries.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    this.assertKnownIds(ids);
    const kept = options.stopAtEos ? this.cutAtEos(ids) : ids;
    return this.decodePieces(kept, options.maskText ?? DEFAULT_MASK_TEXT).join(this.tokenSeparator);
  }

  /**
   * One display string per id, for a view that shows every position. A byte-level token
   * holding only part of a multi-byte character shows as U+FFFD.
   */
  decodeTokens(ids: readonly number[], options: Pick<DecodeOptions, 'maskText'> = {}): string[] {
    this.assertKnownIds(ids);
    const maskText = options.maskText ?? DEFAULT_MASK_TEXT;
    return ids.map((id) => (id === this.maskId ? maskText : this.decodeRun([id])));
  }

  /**
   * Each id's text, decoded alone, and its character offset in the text of them all (the
   * pieces joined as decode joins them). A byte-level token holding part of a character is
   * U+FFFD, one character, there.
   */
  pieces(ids: readonly number[]): { pieces: string[]; offsets: number[] } {
    const pieces = this.decodeTokens(ids);
    const offsets: number[] = [];
    let offset = 0;
    pieces.forEach((piece, k) => {
      if (k > 0) offset += this.tokenSeparator.length;
      offsets.push(offset);
      offset += piece.length;
    });
    return { pieces, offsets };
  }

  private decodePieces(ids: readonly number[], maskText: string): string[] {
    const pieces: string[] = [];
    let run: number[] = [];
    const flushRun = (): void => {
      if (run.length > 0) pieces.push(this.decodeRun(run));
      run = [];
    };
    for (const id of ids) {
      if (id === this.maskId) {
        flushRun();
        pieces.push(maskText);
      } else {
        run.push(id);
      }
    }
    flushRun();
    return pieces;
  }

  private decodeRun(ids: number[]): string {
    return decodeWithoutCleanup(this.tokenizer, ids);
  }

  private cutAtEos(ids: readonly number[]): readonly number[] {
    const eosIndex = this.eosId === undefined ? -1 : ids.indexOf(this.eosId);
    return eosIndex === -1 ? ids : ids.slice(0, eosIndex);
  }

  private assertKnownIds(ids: readonly number[]): void {
    const unknown = ids.find((id) => !Number.isInteger(id) || id < 0 || (id >= this.vocabSize && id !== this.maskId));
    if (unknown !== undefined) {
      const message = `token id ${unknown} is outside the vocabulary [0, ${this.vocabSize}) and is not the mask id ${this.maskId}`;
      throw new MdlmError(ErrorCodes.invalidArgument, message, {
        details: { id: unknown, vocabSize: this.vocabSize, maskId: this.maskId },
      });
    }
  }
}

/** The cleanup rewrites " ." as "." and the like; decoding must return the text that was encoded. */
function decodeWithoutCleanup(tokenizer: HfTokenizer, ids: number[]): string {
  return tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

function loadTokenizer(json: TokenizerJson, config: TokenizerConfig, source: string): HfTokenizer {
  try {
    // The parsed config carries token names as plain strings, the form tokenizers.js reads.
    return new Tokenizer({ ...json, pre_tokenizer: withReferenceWhitespace(json['pre_tokenizer']) }, config);
  } catch (error) {
    throw new MdlmError(ErrorCodes.tokenizerError, `${source} cannot be loaded: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * tokenizers.js 0.2.0 runs the ByteLevel regex with JavaScript's \s, which counts U+FEFF as
 * whitespace and misses U+0085, unlike Oniguruma (Rust `tokenizers`) and Python's `regex`
 * (GPT-2). Its Split pre-tokenizer translates \s to \p{White_Space}, so the same regex run
 * by a Split, then a ByteLevel without its own regex, splits text as GPT-2 did.
 */
function withReferenceWhitespace(preTokenizer: unknown): unknown {
  const byteLevel = regexByteLevelSchema.safeParse(preTokenizer);
  if (!byteLevel.success) return preTokenizer;
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: BYTE_LEVEL_PATTERN }, behavior: 'Isolated', invert: false },
      { ...byteLevel.data, use_regex: false },
    ],
  };
}

/** Ids must be 0..n-1 with no gap, otherwise "the vocabulary size" is not a free id for the mask. */
function contiguousVocabSize(tokenizer: HfTokenizer, source: string): number {
  const size = tokenizer.get_vocab(true).size;
  for (let id = 0; id <= size; id++) {
    if ((tokenizer.id_to_token(id) === undefined) !== (id === size)) {
      throw new MdlmError(ErrorCodes.tokenizerError, `${source}: token ids are not contiguous around id ${id}`, {
        details: { id, size },
      });
    }
  }
  return size;
}

/** Spec §1: the tokenizer's mask token if it has one, else the first id past its vocabulary. */
function resolveMaskId(tokenizer: HfTokenizer, config: TokenizerConfig, vocabSize: number, source: string): number {
  const maskToken = config.mask_token ?? conventionalMaskToken(tokenizer);
  return maskToken === undefined ? vocabSize : requireTokenId(tokenizer, maskToken, 'mask_token', source);
}

function conventionalMaskToken(tokenizer: HfTokenizer): string | undefined {
  const specialTokens = [...tokenizer.get_added_tokens_decoder().values()].filter((token) => token.special);
  return CONVENTIONAL_MASK_TOKENS.find((name) => specialTokens.some((token) => token.content === name));
}

function requireTokenId(tokenizer: HfTokenizer, token: string, role: string, source: string): number {
  const id = tokenizer.token_to_id(token);
  if (id === undefined) {
    throw new MdlmError(ErrorCodes.tokenizerError, `${source}: ${role} ${JSON.stringify(token)} is not in the vocabulary`, {
      details: { role, token },
    });
  }
  return id;
}

/**
 * Decoding two copies of an ordinary token shows what the tokenizer writes between tokens,
 * which is what must go between separately decoded pieces.
 */
function measureTokenSeparator(tokenizer: HfTokenizer): string {
  const added = tokenizer.get_added_tokens_decoder();
  let probeId = 0;
  while (added.has(probeId)) probeId++;
  const single = decodeWithoutCleanup(tokenizer, [probeId]);
  const double = decodeWithoutCleanup(tokenizer, [probeId, probeId]);
  const separator = double.slice(single.length, double.length - single.length);
  return single.length > 0 && double === single + separator + single ? separator : '';
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, source: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.tokenizerError, `${source} is malformed: ${z.prettifyError(parsed.error)}`, {
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    const message = missing ? `${path} is missing` : `${path} cannot be read: ${errorMessage(error)}`;
    throw new MdlmError(ErrorCodes.tokenizerError, message, { cause: error, details: { path } });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = `${path} is not valid JSON: ${errorMessage(error)}`;
    throw new MdlmError(ErrorCodes.tokenizerError, message, { cause: error, details: { path } });
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
