/**
 * Loading tokenizer files: clear errors for missing or corrupt files, and the spec §1
 * mask rule for tokenizers that do or do not declare a mask token.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { MdlmTokenizer, buildWordLevelTokenizer } from '../../src/tokenizer/index.js';

const GPT2_FIXTURE_DIR = fileURLToPath(new URL('../fixtures/gpt2/', import.meta.url));

function isTokenizerError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof MdlmError && error.code === ErrorCodes.tokenizerError && pattern.test(error.message);
}

describe('MdlmTokenizer.fromFiles', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mdlm-tokenizer-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A fresh folder holding the given files. */
  async function folderWith(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(root, 'case-'));
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
    return dir;
  }

  it('reports a missing tokenizer.json', async () => {
    const dir = await folderWith({ 'tokenizer_config.json': '{}' });
    await assert.rejects(MdlmTokenizer.fromFiles(dir), isTokenizerError(/tokenizer\.json is missing/));
  });

  it('reports a missing tokenizer_config.json', async () => {
    const dir = await folderWith({ 'tokenizer.json': '{}' });
    await assert.rejects(MdlmTokenizer.fromFiles(dir), isTokenizerError(/tokenizer_config\.json is missing/));
  });

  it('reports a file that is not JSON', async () => {
    const dir = await folderWith({ 'tokenizer.json': '{"version": "1.0", "model": {', 'tokenizer_config.json': '{}' });
    await assert.rejects(MdlmTokenizer.fromFiles(dir), isTokenizerError(/tokenizer\.json is not valid JSON/));
  });

  it('reports JSON that is not a tokenizer', async () => {
    const dir = await folderWith({ 'tokenizer.json': '{"version": "1.0"}', 'tokenizer_config.json': '{}' });
    await assert.rejects(MdlmTokenizer.fromFiles(dir), isTokenizerError(/tokenizer\.json is malformed/));
  });

  it('loads a copy of the GPT-2 fixture', async () => {
    const dir = await folderWith({});
    await copyFile(join(GPT2_FIXTURE_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await copyFile(join(GPT2_FIXTURE_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    const tokenizer = await MdlmTokenizer.fromFiles(dir);
    assert.equal(tokenizer.decode(tokenizer.encode('round trip')), 'round trip');
  });
});

describe('MdlmTokenizer.fromJson', () => {
  const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(10);

  it('reports a model type tokenizers.js cannot build', () => {
    const broken = { ...tokenizerJson, model: { type: 'Nonsense' } };
    assert.throws(() => MdlmTokenizer.fromJson(broken, tokenizerConfig), isTokenizerError(/cannot be loaded/));
  });

  it('reports a declared mask token that is not in the vocabulary', () => {
    const config = { ...tokenizerConfig, mask_token: '<nope>' };
    assert.throws(() => MdlmTokenizer.fromJson(tokenizerJson, config), isTokenizerError(/mask_token "<nope>"/));
  });

  it('reads token names written as serialized AddedTokens', () => {
    const config = { ...tokenizerConfig, eos_token: { __type: 'AddedToken', content: '[UNK]', special: true } };
    assert.equal(MdlmTokenizer.fromJson(tokenizerJson, config).eosId, 0);
  });

  it('reports token ids with a gap', () => {
    const model = tokenizerJson['model'] as { vocab: Record<string, number> };
    const vocab = Object.fromEntries(Object.entries(model.vocab).filter(([, id]) => id !== 4));
    const gapped = { ...tokenizerJson, model: { ...model, vocab } };
    assert.throws(() => MdlmTokenizer.fromJson(gapped, tokenizerConfig), isTokenizerError(/not contiguous/));
  });
});

describe('mask id (spec §1)', () => {
  const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(10);
  const { mask_token: _declared, ...configWithoutMask } = tokenizerConfig;

  it('is the declared mask token', () => {
    assert.equal(MdlmTokenizer.fromJson(tokenizerJson, tokenizerConfig).maskId, 9);
  });

  it('is a special added token conventionally named [MASK] when the config names none', () => {
    assert.equal(MdlmTokenizer.fromJson(tokenizerJson, configWithoutMask).maskId, 9);
  });

  it('is the vocabulary size when the tokenizer has no mask token', () => {
    const addedTokens = tokenizerJson['added_tokens'] as Array<{ content: string }>;
    const noMask = { ...tokenizerJson, added_tokens: addedTokens.filter((token) => token.content !== '[MASK]') };
    const tokenizer = MdlmTokenizer.fromJson(noMask, configWithoutMask);
    assert.equal(tokenizer.vocabSize, 10);
    assert.equal(tokenizer.maskId, 10);
  });
});
