/**
 * When no inference worker can be brought back (its model files are gone), work is refused at
 * once with worker_unavailable instead of waiting forever, the failure is logged, and the
 * server recovers by itself once a later restart succeeds.
 */
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportVariant, postJson, startServer, tinyExport, waitFor } from './helpers.js';

test('a worker that cannot be restarted: 503 worker_unavailable at once, logged, and served again once its files are back', async () => {
  const exportDir = await exportVariant(await tinyExport(), async () => undefined);
  const server = await startServer({ exportDir });
  const generate = () => postJson(`${server.url}/v1/generate`, { steps: 4, seed: 1 }, { signal: AbortSignal.timeout(15_000) });
  const errorOf = async (response: Response) => ({ status: response.status, ...((await response.json()) as { error: { code: string; message: string } }).error });
  const before = await (await generate()).json();

  const model = join(exportDir, 'model.onnx');
  await rename(model, `${model}.moved`);
  await server.service.restartWorker(0);
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 503 && server.service.status().workersDown !== undefined, 'the restart to fail');
  const readiness = await errorOf(await fetch(`${server.url}/readyz`));
  assert.equal(readiness.code, 'worker_unavailable');
  const refused = await errorOf(await generate());
  assert.deepEqual([refused.status, refused.code], [503, 'worker_unavailable']);
  assert.match(refused.message, /no inference worker can run: worker 0 could not be restarted \(.*model\.onnx.*\); the next attempt is in \d+\.\d s/);
  const logged = server.logs.find((line) => line.level === 50 && line.worker === 0 && typeof line.retry_in_ms === 'number');
  assert.ok(logged, 'the failed restart is logged as an error');
  assert.match(logged.msg as string, /^inference worker 0 could not be started: .*; retrying in \d+\.\d s$/);

  await rename(`${model}.moved`, model);
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, 'a later restart to succeed', 60_000);
  const after = await generate();
  assert.equal(after.status, 200);
  assert.deepEqual((await after.json()).samples, before.samples, 'the same seeded output as before');
  assert.ok(server.logs.some((line) => line.level === 30 && line.msg === 'inference worker 0 is ready'));
});
