import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import { resolveModel } from '../../src/hub/index.js';
import { MDLM_REPO, leftovers, resolveInChild, startHubWorld } from './helpers.js';

const world = await startHubWorld();

test('two processes resolving at once, from empty caches, both get the same loadable export', async () => {
  const options = world.freshOptions();
  const results = await Promise.all([resolveInChild(MDLM_REPO, options), resolveInChild(MDLM_REPO, options)]);
  for (const result of results) {
    assert.equal(result.ok, true, result.message);
    assert.equal(result.loads, true);
  }
  assert.equal(results[0]?.exportDir, results[1]?.exportDir);
  assert.deepEqual(await readdir(join(options.modelsDir ?? '', 'kuleshov-group--mdlm-owt')), [(results[0]?.exportDir ?? '').split('/').at(-1)]);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
  assert.deepEqual(leftovers(options.modelsDir ?? ''), []);
});

test('when both calls convert, the first export published stays and the second is discarded', async () => {
  const options = world.freshOptions();
  const converters = [0, 1].map(() => ({ converted: false }));
  const results = await Promise.all(
    converters.map((converter) => resolveModel(MDLM_REPO, { ...options, onProgress: (event) => (converter.converted ||= event.phase === 'convert') })),
  );
  assert.deepEqual(converters, [{ converted: true }, { converted: true }], 'both converted: they raced');
  assert.equal(results[0]?.exportDir, results[1]?.exportDir);
  assert.equal(results[0]?.manifest.createdAt, results[1]?.manifest.createdAt, 'both report the one export that was kept');
  await InferenceSession.create(join(results[0]?.exportDir ?? '', 'model.onnx'));
  assert.deepEqual(leftovers(options.modelsDir ?? ''), []);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
});
