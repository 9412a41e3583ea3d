import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { type ResolveProgress, resolveModel } from '../../src/hub/index.js';
import { BUILDER_VERSION } from '../../src/model/manifest.js';
import { gitBlobId, sha256 } from './fake-hub.js';
import { MDLM_REPO, checkpointFiles, gpt2TokenizerFiles, leftovers, requestLines, resolveInChild, startHubWorld } from './helpers.js';

const world = await startHubWorld();
const { hub, mdlmCommit } = world;
const options = world.freshOptions();
const files = await checkpointFiles();
const repoCache = join(options.cacheDir ?? '', 'models--kuleshov-group--mdlm-owt');
const expectedExportDir = join(options.modelsDir ?? '', 'kuleshov-group--mdlm-owt', `${mdlmCommit.slice(0, 12)}-positions-fp32-fused-b${BUILDER_VERSION}`);

test('the first resolve downloads into the HF cache, converts, and the export loads in onnxruntime', async () => {
  const events: ResolveProgress[] = [];
  const resolved = await resolveModel(MDLM_REPO, { ...options, onProgress: (event) => events.push(event) });

  assert.equal(resolved.exportDir, expectedExportDir);
  assert.equal(resolved.source.kind, 'hub');
  assert.equal(resolved.source.commit, mdlmCommit);
  assert.equal(resolved.source.cacheOnly, undefined);
  assert.equal(resolved.manifest.tokenizer, true);
  assert.equal(resolved.manifest.checkpoint.source, join(repoCache, 'snapshots', mdlmCommit));
  await InferenceSession.create(join(resolved.exportDir, 'model.onnx'));
  assert.deepEqual(await readFile(join(resolved.exportDir, 'tokenizer.json')), gpt2TokenizerFiles()['tokenizer.json']);

  const finished = events.filter((event) => event.done === event.total).map((event) => `${event.phase} ${event.file ?? ''}`);
  assert.deepEqual(finished, ['download config.json', 'download model.safetensors', 'download tokenizer.json', 'download tokenizer_config.json', 'convert ']);
});

test('the HF cache is laid out as Python huggingface_hub lays it out', async () => {
  const snapshot = join(repoCache, 'snapshots', mdlmCommit);
  assert.equal(await readFile(join(repoCache, 'refs', 'main'), 'utf8'), mdlmCommit);
  assert.equal(await readlink(join(snapshot, 'model.safetensors')), `../../blobs/${sha256(files['model.safetensors'] as Buffer)}`);
  assert.equal(await readlink(join(snapshot, 'config.json')), `../../blobs/${gitBlobId(files['config.json'] as Buffer)}`);
  // mdlm-owt has no tokenizer: recorded, as Python records it, so later runs need not ask again.
  assert.equal(await readFile(join(repoCache, '.no_exist', mdlmCommit, 'tokenizer.json'), 'utf8'), '');
  assert.equal(await readFile(join(options.cacheDir ?? '', 'models--gpt2', 'refs', 'main'), 'utf8'), world.gpt2Commit);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  assert.deepEqual(leftovers(options.modelsDir ?? ''), []);
});

test('a second run in a new process asks the hub only for the commit of the revision', async () => {
  hub.clearRequests();
  const result = await resolveInChild(MDLM_REPO, options);
  assert.equal(result.exportDir, expectedExportDir);
  assert.equal(result.loads, true);
  assert.deepEqual(requestLines(hub), [`GET /api/models/${MDLM_REPO}/revision/main`]);
});

test('offline, a new process uses both caches without a single request', async () => {
  hub.clearRequests();
  const result = await resolveInChild(MDLM_REPO, { ...options, offline: true });
  assert.equal(result.exportDir, expectedExportDir);
  assert.equal(result.source?.cacheOnly, 'offline');
  assert.deepEqual(requestLines(hub), []);
});

test('HF_HUB_OFFLINE=1, HF_HUB_CACHE and HF_ENDPOINT from the environment work the same way', async () => {
  hub.clearRequests();
  const result = await resolveInChild(MDLM_REPO, { modelsDir: options.modelsDir }, { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: options.cacheDir ?? '', HF_ENDPOINT: hub.url });
  assert.equal(result.exportDir, expectedExportDir, result.message);
  assert.equal(result.source?.cacheOnly, 'offline');
  assert.deepEqual(requestLines(hub), []);
});

test('a commit pinned with @ is served from the caches without any request, even online', async () => {
  hub.clearRequests();
  const resolved = await resolveModel(`${MDLM_REPO}@${mdlmCommit}`, options);
  assert.equal(resolved.exportDir, expectedExportDir);
  assert.equal(resolved.source.revision, mdlmCommit);
  assert.deepEqual(requestLines(hub), []);
});

test('a branch that moved is noticed, and @tag pins the old commit', async () => {
  const newCommit = hub.commit(MDLM_REPO, await checkpointFiles(2));
  hub.setRef(MDLM_REPO, 'v1', mdlmCommit);

  const moved = await resolveModel(MDLM_REPO, options);
  assert.equal(moved.source.commit, newCommit);
  assert.notEqual(moved.exportDir, expectedExportDir);
  assert.equal(await readFile(join(repoCache, 'refs', 'main'), 'utf8'), newCommit);
  await InferenceSession.create(join(moved.exportDir, 'model.onnx'));

  hub.clearRequests();
  const events: ResolveProgress[] = [];
  const pinned = await resolveModel(`${MDLM_REPO}@v1`, { ...options, onProgress: (event) => events.push(event) });
  assert.equal(pinned.source.commit, mdlmCommit);
  assert.equal(pinned.exportDir, expectedExportDir);
  assert.deepEqual(events, [], 'nothing downloaded or converted again');
  assert.deepEqual(requestLines(hub), [`GET /api/models/${MDLM_REPO}/revision/v1`]);
  assert.equal(await readFile(join(repoCache, 'refs', 'v1'), 'utf8'), mdlmCommit);
});
