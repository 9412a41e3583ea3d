/**
 * A worker thread started before its model is known (what bin/mdlm.js does for the commands
 * that open one): the next runtime adopts it and says so, and a thread nobody adopts does not
 * keep the process alive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { readManifest } from '../../src/families/index.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../../src/runtime/index.js';
import { prestartWorkerThread } from '../../src/runtime/worker-thread.js';
import { tinyExport } from '../server/helpers.js';

const exportDir = await tinyExport();
const providerOptions = ProviderOptionsSchema.parse({});
/** Long enough for a thread to start and load onnxruntime under tsx on a busy 2-core machine. */
const THREAD_LOAD_MS = 4000;

async function startRuntime(): Promise<ForwardRuntime> {
  const { files, dtype } = await readManifest(exportDir);
  return ForwardRuntime.start({ model: { dir: exportDir, files, dtype }, device: 'cpu', providerOptions, workers: 1, intraOpThreads: 1 });
}

test('the next runtime adopts a prestarted thread, which had loaded onnxruntime and waited for its model; the one after starts its own', async () => {
  prestartWorkerThread();
  await new Promise((resolve) => setTimeout(resolve, THREAD_LOAD_MS));
  const adopting = await startRuntime();
  const fresh = await startRuntime();
  try {
    const adopted = adopting.firstStartup;
    assert.ok(adopted !== undefined);
    assert.equal(adopted.prestarted, true);
    assert.ok(adopted.waitedMs > 0, JSON.stringify(adopted));
    assert.equal(fresh.firstStartup?.prestarted, false);
  } finally {
    await Promise.all([adopting.close(), fresh.close()]);
  }
});

test('a prestarted thread that no runtime adopts does not keep the process alive', () => {
  const module = JSON.stringify(new URL('../../src/runtime/worker-thread.ts', import.meta.url).href);
  const script = `import(${module}).then((m) => m.prestartWorkerThread())`;
  // Killed if it is still running after the timeout: a thread that held it would wait for its model forever.
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.signal, null, 'the process was still running at the timeout');
  assert.equal(result.status, 0, result.stderr);
});
