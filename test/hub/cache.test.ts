import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { type ResolveProgress, resolveModel } from '../../src/hub/index.js';
import { BUILDER_VERSION, MANIFEST_FILE } from '../../src/model/manifest.js';
import { gitBlobId, sha256 } from './fake-hub.js';
import { MDLM_REPO, checkpointFiles, gpt2TokenizerFiles, interruptChildDuringDownload, leftovers, pathsUnder, requestLines, startHubWorld } from './helpers.js';

const world = await startHubWorld();
const { hub, mdlmCommit } = world;
const weights = (await checkpointFiles())['model.safetensors'] as Buffer;

/**
 * What `huggingface-cli download` (huggingface_hub in Python) leaves behind: blobs named by
 * sha256 for LFS files and by git blob id otherwise, relative symlinks from the snapshot,
 * and refs/main holding the commit.
 */
async function writePythonCache(cacheDir: string, repo: string, commit: string, files: Record<string, Buffer>): Promise<void> {
  const root = join(cacheDir, `models--${repo.replaceAll('/', '--')}`);
  await mkdir(join(root, 'blobs'), { recursive: true });
  await mkdir(join(root, 'snapshots', commit), { recursive: true });
  await mkdir(join(root, 'refs'), { recursive: true });
  for (const [path, bytes] of Object.entries(files)) {
    const etag = path.endsWith('.safetensors') ? sha256(bytes) : gitBlobId(bytes);
    await writeFile(join(root, 'blobs', etag), bytes);
    await symlink(`../../blobs/${etag}`, join(root, 'snapshots', commit, path));
  }
  await writeFile(join(root, 'refs', 'main'), commit);
}

async function pythonFilledOptions() {
  const options = world.freshOptions();
  await writePythonCache(options.cacheDir ?? '', MDLM_REPO, mdlmCommit, await checkpointFiles());
  await writePythonCache(options.cacheDir ?? '', 'gpt2', world.gpt2Commit, gpt2TokenizerFiles());
  return options;
}

test('a cache filled by Python huggingface_hub is used offline without any request', async () => {
  const options = await pythonFilledOptions();
  hub.clearRequests();
  const resolved = await resolveModel(MDLM_REPO, { ...options, offline: true });
  assert.equal(resolved.source.commit, mdlmCommit);
  assert.equal(resolved.manifest.tokenizer, true);
  await InferenceSession.create(join(resolved.exportDir, 'model.onnx'));
  assert.deepEqual(requestLines(hub), []);
});

test('a cache filled by Python huggingface_hub is used online without downloading anything', async () => {
  const options = await pythonFilledOptions();
  hub.clearRequests();
  await resolveModel(MDLM_REPO, options);
  // Metadata only: the two commits, and the tokenizer files Python left no record of (looked up once, recorded absent).
  assert.deepEqual(requestLines(hub), [
    `GET /api/models/${MDLM_REPO}/revision/main`,
    `POST /api/models/${MDLM_REPO}/paths-info/${mdlmCommit}`,
    'GET /api/models/gpt2/revision/main',
  ]);
});

test('a connection dropped half-way through model.safetensors leaves nothing usable, and a retry works', async () => {
  const options = world.freshOptions();
  const repoCache = join(options.cacheDir ?? '', 'models--kuleshov-group--mdlm-owt');
  hub.cutNextDownload('model.safetensors');
  const received: number[] = [];
  const onProgress = (event: ResolveProgress) => event.file === 'model.safetensors' && received.push(event.done);
  const error = await resolveModel(MDLM_REPO, { ...options, onProgress }).catch((caught: unknown) => caught);
  assert.ok(error instanceof MdlmError && error.code === ErrorCodes.hubUnreachable, String(error));
  assert.match(error.message, /lost the connection .* while fetching model\.safetensors in kuleshov-group\/mdlm-owt@main .*run again to retry/);
  assert.ok(received.length > 0 && (received.at(-1) ?? 0) < weights.length, 'the download had started');

  assert.equal(existsSync(join(repoCache, 'snapshots', mdlmCommit, 'model.safetensors')), false);
  assert.equal(existsSync(join(repoCache, 'blobs', sha256(weights))), false);
  assert.equal(existsSync(join(repoCache, 'refs', 'main')), false);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  // Offline, the half download is not mistaken for a model.
  await assert.rejects(resolveModel(MDLM_REPO, { ...options, offline: true }), { code: ErrorCodes.hubUnreachable });

  const retried = await resolveModel(MDLM_REPO, options);
  assert.deepEqual(await readFile(join(repoCache, 'snapshots', mdlmCommit, 'model.safetensors')), weights);
  await InferenceSession.create(join(retried.exportDir, 'model.onnx'));
});

test('Ctrl-C in the middle of a download leaves no temporary file behind', async () => {
  const options = world.freshOptions();
  hub.stallNextDownload('model.safetensors');
  assert.equal(await interruptChildDuringDownload(MDLM_REPO, options, 'model.safetensors'), 130);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  assert.equal(pathsUnder(options.cacheDir ?? '').some((path) => path.endsWith('model.safetensors')), false);
});

test('bytes that do not match the listed sha256 are rejected and not kept', async () => {
  const options = world.freshOptions();
  hub.corruptNextDownload('model.safetensors');
  await assert.rejects(resolveModel(MDLM_REPO, options), (error: unknown) => {
    assert.ok(error instanceof MdlmError && error.code === ErrorCodes.hubError, String(error));
    assert.match(error.message, new RegExp(`model\\.safetensors from ${MDLM_REPO}@${mdlmCommit} arrived damaged .* expected ${weights.length} bytes, hash ${sha256(weights)}`));
    return true;
  });
  assert.equal(pathsUnder(options.cacheDir ?? '').some((path) => path.includes(sha256(weights))), false);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  await resolveModel(MDLM_REPO, options);
});

test('a stale export (builder version or checkpoint changed, or a broken manifest) is rebuilt', async () => {
  const options = world.freshOptions();
  const first = await resolveModel(MDLM_REPO, options);
  const manifestPath = join(first.exportDir, MANIFEST_FILE);
  const tamperings: [string, (manifest: Record<string, unknown>) => string][] = [
    ['built by builder version 0', (manifest) => JSON.stringify({ ...manifest, builderVersion: '0' })],
    ['the checkpoint has changed', (manifest) => JSON.stringify({ ...manifest, checkpoint: { sha256: '0'.repeat(64), source: 'elsewhere' } })],
    ['not an exported model directory', () => '{ truncated'],
  ];
  for (const [reason, tamper] of tamperings) {
    await writeFile(manifestPath, tamper(JSON.parse(await readFile(manifestPath, 'utf8'))));
    const converted: ResolveProgress[] = [];
    const rebuilt = await resolveModel(MDLM_REPO, { ...options, onProgress: (event) => event.phase === 'convert' && converted.push(event) });
    assert.equal(rebuilt.exportDir, first.exportDir);
    assert.equal(rebuilt.manifest.builderVersion, BUILDER_VERSION);
    assert.equal(rebuilt.manifest.checkpoint.sha256, first.manifest.checkpoint.sha256);
    assert.ok(converted.length > 0, `rebuilt after: ${reason}`);
    assert.ok(rebuilt.notices.some((notice) => notice.startsWith(`rebuilding ${first.exportDir}`) && notice.includes(reason)), rebuilt.notices.join('\n'));
    await InferenceSession.create(join(rebuilt.exportDir, 'model.onnx'));
  }
  assert.deepEqual(leftovers(options.modelsDir ?? ''), []);
});

test('the conversion cache is keyed by head, dtype and fused', async () => {
  const options = world.freshOptions();
  const variants = await Promise.all([
    resolveModel(MDLM_REPO, options),
    resolveModel(MDLM_REPO, { ...options, head: 'logits', dtype: 'fp16', fused: false }),
  ]);
  assert.deepEqual(
    variants.map((resolved) => resolved.exportDir.split('/').at(-1)),
    [`${mdlmCommit.slice(0, 12)}-positions-fp32-fused-b${BUILDER_VERSION}`, `${mdlmCommit.slice(0, 12)}-logits-fp16-unfused-b${BUILDER_VERSION}`],
  );
  assert.equal(variants[1]?.manifest.dtype, 'fp16');
});
