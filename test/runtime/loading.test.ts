/**
 * How a worker builds its session from an export: on the CPU from model.onnx's bytes with the
 * data file mapped and packed (fp32, int8), or with the data in memory (fp16, whose products
 * the CPU does not pack). Either way the running session never reads the files again, and the
 * worker reports where its start-up went.
 */
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readManifest } from '../../src/families/index.js';
import type { WeightDtype } from '../../src/model/index.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../../src/runtime/index.js';
import { exportVariant, synthCheckpoint } from '../helpers/models.js';

const checkpoint = await synthCheckpoint();
const draws = { positions: Int32Array.of(0, 7, 31), uniforms: Float64Array.of(0.2, 0.5, 0.9), temperature: 1, topP: 1, topK: 0 };
const row = { tokens: Int32Array.from({ length: 32 }, (_, i) => (i * 5) % 63), sigma: 0, draws };

for (const dtype of ['fp32', 'int8', 'fp16'] as const satisfies readonly WeightDtype[]) {
  test(`the worker of a ${dtype} export reports its start-up, and its session does not read the files once built`, async () => {
    const dir = await exportVariant(checkpoint, 'positions', dtype, true);
    const { files } = await readManifest(dir);
    const runtime = await ForwardRuntime.start({ model: { dir, files, dtype }, device: 'cpu', providerOptions: ProviderOptionsSchema.parse({}), workers: 1, intraOpThreads: 1 });
    try {
      const startup = runtime.firstStartup;
      assert.ok(startup !== undefined);
      assert.equal(startup.check, 'full', 'a fresh export is checked in full');
      for (const part of [startup.threadMs, startup.readMs, startup.checkMs, startup.sessionMs]) assert.ok(part >= 0 && part <= startup.wallMs, JSON.stringify(startup));
      const before = await runtime.execute([row]);
      truncateSync(join(dir, files.data), 0);
      truncateSync(join(dir, files.model), 0);
      const after = await runtime.execute([row]);
      assert.deepEqual(after.results, before.results);
    } finally {
      await runtime.close();
    }
  });
}
