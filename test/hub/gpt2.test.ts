import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { synthesizeGpt2Checkpoint } from '../../src/families/index.js';
import { DEFAULT_EVAL_MODEL, resolveModel } from '../../src/hub/index.js';
import { BUILDER_VERSION } from '../../src/model/manifest.js';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { tempDir } from '../helpers/tmp.js';
import { gpt2TokenizerFiles, leftovers, requestLines, resolveInChild, startHubWorld } from './helpers.js';

/** A GPT-2 of GPT-2's vocabulary around the smallest network, in the hub's file layout. */
async function gpt2Files(seed: number): Promise<Record<string, Buffer>> {
  const dir = join(tempDir(), 'gpt2');
  await synthesizeGpt2Checkpoint({ outDir: dir, shape: { vocab_size: 50257, n_positions: 16, n_embd: 16, n_layer: 1, n_head: 2 }, seed });
  return { 'config.json': await readFile(join(dir, 'config.json')), 'model.safetensors': await readFile(join(dir, 'model.safetensors')) };
}

const world = await startHubWorld();
const { hub } = world;
// gpt2-large ships tokenizer.json but, as far as this test assumes, no tokenizer_config.json.
const evalCommit = hub.commit(DEFAULT_EVAL_MODEL, { ...(await gpt2Files(1)), 'tokenizer.json': gpt2TokenizerFiles()['tokenizer.json'] as Buffer });
const options = world.freshOptions();

test('the default evaluation model resolves from the hub into a GPT-2 export with its own tokenizer', async () => {
  assert.equal(DEFAULT_EVAL_MODEL, 'openai-community/gpt2-large');
  hub.clearRequests();
  const resolved = await resolveModel(DEFAULT_EVAL_MODEL, options);
  assert.equal(resolved.exportDir, join(options.modelsDir ?? '', 'openai-community--gpt2-large', `${evalCommit.slice(0, 12)}-positions-fp32-fused-b${BUILDER_VERSION}`));
  assert.equal(resolved.manifest.architecture, 'gpt2');
  assert.equal(resolved.manifest.tokenizer, true);
  assert.equal(resolved.source.commit, evalCommit);
  assert.ok(!requestLines(hub).some((line) => line.includes('/gpt2/')), 'no other repository asked for a tokenizer');
  assert.deepEqual(await readFile(join(resolved.exportDir, 'tokenizer.json')), gpt2TokenizerFiles()['tokenizer.json']);
  const tokenizer = await MdlmTokenizer.fromFiles(resolved.exportDir);
  assert.equal(tokenizer.eosId, 50256, 'GPT2TokenizerFast defaults supplied for the missing tokenizer_config.json');
  assert.deepEqual(tokenizer.encode('a<|endoftext|>b'), [64, 50256, 65]);
  await InferenceSession.create(join(resolved.exportDir, 'model.onnx'));
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  assert.deepEqual(leftovers(options.modelsDir ?? ''), []);
});

test('a new process reuses both caches, online with one request and offline with none', async () => {
  hub.clearRequests();
  const online = await resolveInChild(DEFAULT_EVAL_MODEL, options);
  assert.equal(online.loads, true, online.message);
  assert.equal(online.converted, false);
  assert.deepEqual(requestLines(hub), [`GET /api/models/${DEFAULT_EVAL_MODEL}/revision/main`]);
  hub.clearRequests();
  const offline = await resolveInChild(DEFAULT_EVAL_MODEL, { ...options, offline: true });
  assert.equal(offline.source?.cacheOnly, 'offline');
  assert.deepEqual(requestLines(hub), []);
});

test('a GPT-2 checkpoint directory without a tokenizer gets gpt2’s; an export directory is used as it is', async () => {
  const dir = join(tempDir(), 'checkpoint');
  await mkdir(dir);
  for (const [file, bytes] of Object.entries(await gpt2Files(2))) await writeFile(join(dir, file), bytes);
  hub.clearRequests();
  const fresh = world.freshOptions();
  const resolved = await resolveModel(dir, fresh);
  assert.equal(resolved.source.kind, 'checkpoint');
  assert.equal(resolved.manifest.architecture, 'gpt2');
  assert.ok(requestLines(hub).includes('GET /api/models/gpt2/revision/main'));
  const again = await resolveModel(resolved.exportDir, fresh);
  assert.equal(again.source.kind, 'export');
  assert.equal(again.manifest.architecture, 'gpt2');
});
