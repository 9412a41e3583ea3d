import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { checkpointHash } from '../../src/checkpoint/checkpoint.js';
import { ErrorCodes } from '../../src/errors.js';
import { type ResolveProgress, resolveModel } from '../../src/hub/index.js';
import { BUILDER_VERSION, MANIFEST_FILE } from '../../src/model/manifest.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../src/tokenizer/index.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';
import { checkpointFiles, closedPortUrl, requestLines, startHubWorld } from './helpers.js';

const world = await startHubWorld();
const { hub } = world;

async function gpt2VocabCheckpoint(): Promise<string> {
  const dir = join(tempDir(), 'checkpoint');
  await mkdir(dir);
  for (const [path, bytes] of Object.entries(await checkpointFiles())) await writeFile(join(dir, path), bytes);
  return dir;
}

test('a checkpoint directory with its own tokenizer converts into models/local/<hash> without the hub', async () => {
  const checkpointDir = await synthCheckpoint();
  const options = { ...world.freshOptions(), hubUrl: await closedPortUrl() };
  const resolved = await resolveModel(checkpointDir, options);
  const hash = await checkpointHash(checkpointDir);
  assert.equal(resolved.exportDir, join(options.modelsDir ?? '', 'local', `${hash.slice(0, 12)}-positions-fp32-fused-b${BUILDER_VERSION}`));
  assert.equal(resolved.source.kind, 'checkpoint');
  assert.equal(resolved.manifest.tokenizer, true);
  await InferenceSession.create(join(resolved.exportDir, 'model.onnx'));

  const events: ResolveProgress[] = [];
  const again = await resolveModel(checkpointDir, { ...options, onProgress: (event) => events.push(event) });
  assert.equal(again.exportDir, resolved.exportDir);
  assert.deepEqual(events, [], 'reused, not converted again');
});

test('a GPT-2-vocabulary checkpoint without a tokenizer gets gpt2’s from the hub', async () => {
  hub.clearRequests();
  const resolved = await resolveModel(await gpt2VocabCheckpoint(), world.freshOptions());
  assert.equal(resolved.manifest.tokenizer, true);
  assert.ok(requestLines(hub).includes('GET /api/models/gpt2/revision/main'));
});

test('offline, that tokenizer must be in the cache: the error names the missing tokenizer first, and the fixes', async () => {
  const checkpointDir = await gpt2VocabCheckpoint();
  await assert.rejects(resolveModel(checkpointDir, { ...world.freshOptions(), offline: true }), (error: Error & { code?: string }) => {
    assert.equal(error.code, ErrorCodes.hubUnreachable);
    assert.match(error.message, new RegExp(`^${checkpointDir} has no tokenizer of its own .* the hub repository gpt2, which is not in the Hugging Face cache, and offline mode \\(HF_HUB_OFFLINE\\) allows no download\\.`));
    assert.match(error.message, /--tokenizer TOKENIZER_DIR/);
    assert.match(error.message, /test\/fixtures\/gpt2/);
    return true;
  });
});

test('the tokenizer a config names (tokenizer_name) is fetched from that repository', async () => {
  const checkpointDir = await synthCheckpoint();
  const tokenizer = { [TOKENIZER_FILE]: await readFile(join(checkpointDir, TOKENIZER_FILE)), [TOKENIZER_CONFIG_FILE]: await readFile(join(checkpointDir, TOKENIZER_CONFIG_FILE)) };
  hub.commit('acme/word-tokenizer', tokenizer);
  const config = JSON.parse(await readFile(join(checkpointDir, 'config.json'), 'utf8'));
  await writeFile(join(checkpointDir, 'config.json'), JSON.stringify({ ...config, tokenizer_name: 'acme/word-tokenizer' }));
  await rm(join(checkpointDir, TOKENIZER_FILE));
  await rm(join(checkpointDir, TOKENIZER_CONFIG_FILE));

  const resolved = await resolveModel(checkpointDir, world.freshOptions());
  assert.deepEqual(await readFile(join(resolved.exportDir, TOKENIZER_FILE)), tokenizer[TOKENIZER_FILE]);
});

test('a checkpoint with neither a tokenizer nor a hint is exported with token ids only', async () => {
  const checkpointDir = await synthCheckpoint();
  await rm(join(checkpointDir, TOKENIZER_FILE));
  hub.clearRequests();
  const resolved = await resolveModel(checkpointDir, world.freshOptions());
  assert.equal(resolved.manifest.tokenizer, false);
  assert.deepEqual(requestLines(hub), []);
});

test('an export directory is used as it is (its own dtype), if its head is the one needed', async () => {
  const checkpointDir = await synthCheckpoint();
  const exportDir = await exportHead(checkpointDir, 'logits');
  const options = { ...world.freshOptions(), hubUrl: await closedPortUrl() };

  const resolved = await resolveModel(exportDir, { ...options, head: 'logits' });
  assert.equal(resolved.exportDir, exportDir);
  assert.equal(resolved.source.kind, 'export');

  await assert.rejects(resolveModel(exportDir, options), { code: ErrorCodes.invalidArgument, message: new RegExp(`^${exportDir} is a logits-head export, and the positions head is needed here: export its checkpoint .* again with \`mdlm export --head positions\` \\(the default\\)$`) });
  const asItIs = await resolveModel(exportDir, { ...options, head: 'logits', dtype: 'fp16' });
  assert.equal(asItIs.manifest.dtype, 'fp32', 'an export runs with the dtype it was built with, whatever --dtype says');

  const manifest = JSON.parse(await readFile(join(exportDir, MANIFEST_FILE), 'utf8'));
  await writeFile(join(exportDir, MANIFEST_FILE), JSON.stringify({ ...manifest, builderVersion: '0' }));
  await assert.rejects(resolveModel(exportDir, { ...options, head: 'logits' }), { code: ErrorCodes.staleExport, message: /builder version 0/ });
});

test('a directory that holds no model is model_not_found; a file is invalid_argument', async () => {
  const empty = tempDir();
  await assert.rejects(resolveModel(empty, world.freshOptions()), { code: ErrorCodes.modelNotFound, message: /holds neither an exported model/ });
  const file = join(empty, 'model.onnx');
  await writeFile(file, '');
  await assert.rejects(resolveModel(file, world.freshOptions()), { code: ErrorCodes.invalidArgument, message: /is a file/ });
});
