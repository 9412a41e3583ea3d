/**
 * A seed's .ckpt as a model reference: converted into the conversion cache keyed by the file's
 * sha256 and the weights chosen, its tokenizer from the hub repository it names (or
 * --tokenizer), and every reader error reaching the caller with its code and nothing left
 * behind.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { type ResolveOptions, resolveModel } from '../../src/hub/index.js';
import { BUILDER_VERSION } from '../../src/model/index.js';
import { CKPT_DIR, ckptPath, wordTokenizerDir } from '../helpers/baselines.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeHub } from './fake-hub.js';
import { pathsUnder } from './helpers.js';

const expected = JSON.parse(readFileSync(join(CKPT_DIR, 'expected.json'), 'utf8')) as Record<string, { sha256: string }>;

function tokenizerFiles(): Record<string, Buffer> {
  const dir = wordTokenizerDir();
  return { 'tokenizer.json': readFileSync(join(dir, 'tokenizer.json')), 'tokenizer_config.json': readFileSync(join(dir, 'tokenizer_config.json')) };
}

/** A fake hub whose `gpt2` and `bert-base-uncased` repositories hold a tokenizer of the fixtures' vocabulary. */
async function hubWithTokenizers(): Promise<{ hub: FakeHub; options: () => ResolveOptions }> {
  const hub = await FakeHub.start();
  for (const repo of ['gpt2', 'bert-base-uncased']) hub.commit(repo, tokenizerFiles());
  const options = (): ResolveOptions => {
    const root = tempDir('mdlm-ckpt-hub-');
    return { hubUrl: hub.url, cacheDir: join(root, 'hf-cache'), modelsDir: join(root, 'models'), offline: false };
  };
  return { hub, options };
}

test('a .ckpt converts once per weights choice, keyed by its sha256; its tokenizer comes from the repository it names, then from the cache offline', async (t) => {
  const { hub, options } = await hubWithTokenizers();
  t.after(() => hub.close());
  const settings = options();
  const ema = await resolveModel(ckptPath('sedd'), settings);
  const sha = (expected['sedd.ckpt'] as { sha256: string }).sha256;
  assert.equal(ema.source.kind, 'lightning');
  assert.equal(basename(ema.exportDir), `${sha.slice(0, 12)}-positions-fp32-fused-ema-b${BUILDER_VERSION}`);
  assert.deepEqual({ ...ema.manifest.checkpoint, source: basename(ema.manifest.checkpoint.source) }, { sha256: sha, source: 'sedd.ckpt', weights: 'ema' });
  assert.ok(ema.manifest.architecture === 'mdlm' && ema.manifest.parameterization === 'sedd' && ema.manifest.tokenizer);
  assert.ok(hub.requests.some((request) => request.path.includes('gpt2')), "the tokenizer was fetched from the repository data.tokenizer_name_or_path names");

  const again = await resolveModel(ckptPath('sedd'), { ...settings, offline: true });
  assert.equal(again.exportDir, ema.exportDir, 'the same file and weights reuse the export');
  const raw = await resolveModel(ckptPath('sedd'), { ...settings, weights: 'raw' });
  assert.notEqual(raw.exportDir, ema.exportDir);
  assert.equal(raw.manifest.checkpoint.weights, 'raw');

  // A copy of the file under another name is the same checkpoint.
  const copy = join(tempDir(), 'renamed.ckpt');
  copyFileSync(ckptPath('sedd'), copy);
  assert.equal((await resolveModel(copy, { ...settings, offline: true })).exportDir, ema.exportDir);
});

test('--tokenizer replaces the named one and is part of the key; it is refused for an export, and --weights for anything but a .ckpt', async () => {
  const modelsDir = join(tempDir(), 'models');
  const tokenizer = wordTokenizerDir();
  const ar = await resolveModel(ckptPath('ar'), { modelsDir, tokenizer, offline: true });
  assert.ok(ar.manifest.architecture === 'ar' && ar.manifest.tokenizer);
  assert.match(basename(ar.exportDir), new RegExp(`-ema-t[0-9a-f]{12}-b${BUILDER_VERSION}$`));
  await assert.rejects(resolveModel(ar.exportDir, { tokenizer }), { code: 'invalid_argument', details: { param: 'tokenizer' } });
  await assert.rejects(resolveModel(ar.exportDir, { weights: 'raw' }), { code: 'invalid_argument', details: { param: 'weights' } });
});

test('offline with nothing cached, the named tokenizer fails as a hub model does, and leaves no export', async () => {
  const modelsDir = join(tempDir(), 'models');
  await assert.rejects(resolveModel(ckptPath('ar'), { modelsDir, cacheDir: join(tempDir(), 'empty-cache'), offline: true }), { code: 'hub_unreachable', message: /the hub repository bert-base-uncased, which is not in the Hugging Face cache, .*--tokenizer TOKENIZER_DIR/ });
  assert.deepEqual(pathsUnder(modelsDir).filter((path) => path.includes('positions')), []);
});

const broken = JSON.parse(readFileSync(join(CKPT_DIR, 'broken.json'), 'utf8')) as { file: string; code: string; names: string[] }[];

for (const { file, code, names } of broken.filter((entry) => !entry.file.startsWith('hostile-') || entry.file === 'hostile-os-system.ckpt')) {
  test(`${file}: resolving it fails with ${code}, naming the problem, and leaves nothing in the conversion cache`, async () => {
    const modelsDir = join(tempDir(), 'models');
    await assert.rejects(resolveModel(ckptPath(file), { modelsDir, tokenizer: wordTokenizerDir(), offline: true }), (error: Error & { code?: string }) => {
      assert.equal(error.code, code, error.message);
      for (const name of names) assert.ok(error.message.includes(name), `${error.message} names ${name}`);
      return true;
    });
    assert.deepEqual(pathsUnder(modelsDir), []);
  });
}

const UNSERVABLE = [
  { file: 'd3pm.ckpt', names: ['d3pm', "discrete-time"] },
  { file: 'sedd-untimed.ckpt', names: ['sedd', 'time_conditioning'] },
  { file: 'ar-subs.ckpt', names: ['backbone ar with parameterization subs'] },
];

for (const { file, names } of UNSERVABLE) {
  test(`${file}: read, but refused with unsupported_model, saying why; nothing is left behind`, async () => {
    const modelsDir = join(tempDir(), 'models');
    const path = join(CKPT_DIR, '..', 'baselines', file);
    await assert.rejects(resolveModel(path, { modelsDir, tokenizer: wordTokenizerDir(), offline: true }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'unsupported_model', error.message);
      for (const name of names) assert.ok(error.message.includes(name), `${error.message} says ${name}`);
      return true;
    });
    assert.deepEqual(pathsUnder(modelsDir), []);
  });
}
