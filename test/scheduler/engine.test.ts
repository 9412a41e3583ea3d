/**
 * The engine loop with the real runtime (worker threads, CPU provider) on a tiny model:
 * batching across requests, batch invariance, overload and cancellation, failing passes and
 * crashing workers.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { test } from 'node:test';
import { type ServedModel as ModelFacts } from '../../src/families/index.js';
import { EngineCore, type EngineRuntime } from '../../src/generation/index.js';
import type { PassOutput } from '../../src/runtime/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import { type SampleRequest, samplersFor, startEngine } from '../helpers/engine.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

function request(overrides: Partial<SampleRequest> = {}): SampleRequest {
  return { length: 32, steps: 50, sampler: 'ddpm_cache', seed: 1, ...overrides };
}

async function tinyEngine(options: Parameters<typeof startEngine>[1] = {}) {
  return startEngine(await exportHead(await synthCheckpoint(), 'positions'), options);
}

test('a seeded request gives identical tokens alone and batched among concurrent others', async () => {
  const engine = await tinyEngine({ maxBatch: 8 });
  const probe = request({ seed: 99, prefix: [5, 6], steps: 40 });
  const alone = await engine.sample(probe, 3);
  engine.passes.length = 0;
  const others = [
    engine.sample(request({ seed: 1, steps: 40 }), 4),
    engine.sample(request({ seed: 2, sampler: 'ddpm', steps: 30 }), 2),
    engine.sample(request({ seed: 3, length: 16, steps: 40 }), 2),
  ];
  const [together] = await Promise.all([engine.sample(probe, 3), ...others]);
  const largest = Math.max(...engine.passes.map((pass) => pass.rows));
  assert.ok(largest > 3, `the probe shared passes with other requests (largest batch ${largest})`);
  assert.deepEqual(together.samplers.map((s) => Array.from(s.canvas)), alone.samplers.map((s) => Array.from(s.canvas)));
  assert.deepEqual(together.samplers.map((s) => s.forwardPasses), alone.samplers.map((s) => s.forwardPasses));
  const different = await engine.sample({ ...probe, seed: 100 }, 1);
  assert.notDeepEqual(Array.from(different.samplers[0]?.canvas ?? []), Array.from(alone.samplers[0]?.canvas ?? []));
});

test('concurrent requests share forward passes instead of taking turns', async () => {
  const engine = await tinyEngine({ maxBatch: 16 });
  const steps = 20;
  await Promise.all([1, 2, 3, 4].map((seed) => engine.sample(request({ seed, steps, sampler: 'ddpm' }), 1)));
  // Alone, four ddpm requests need 4 × (T + 1) passes; together about T + 1 (one more for the late joiners).
  assert.ok(engine.passes.length <= steps + 3, `${engine.passes.length} passes for 4 concurrent requests of ${steps + 1} passes each`);
});

test('a pass holds at most --max-batch-entries positions, except a single row that needs more', async () => {
  const engine = await tinyEngine({ maxBatch: 64, maxBatchEntries: 6 });
  // T = 2 unmasks about half the window at each step: rows of ~16 draws, each over the cap alone.
  await Promise.all([engine.sample(request({ steps: 2, seed: 4 }), 4), engine.sample(request({ steps: 200, seed: 5 }), 4)]);
  for (const pass of engine.passes) {
    assert.ok(pass.draws <= 6 || pass.rows === 1, `a pass of ${pass.rows} rows drew ${pass.draws} tokens`);
  }
  assert.ok(engine.passes.some((pass) => pass.rows === 1 && pass.draws > 6), 'an over-sized row still ran, alone');
});

test('the event loop is free while a forward pass runs: inference happens in the worker', async () => {
  const exportDir = await exportHead(await synthCheckpoint({ vocab_size: 2000, model_length: 256, hidden_dim: 256, cond_dim: 32, n_blocks: 4, n_heads: 4 }), 'positions');
  const engine = await startEngine(exportDir);
  const running = engine.sample(request({ length: 256, steps: 2, sampler: 'ddpm' }), 1);
  // On the main thread, session.run would hold the loop until the pass was done.
  const passesSeenByImmediate = await new Promise<number>((resolve) => setImmediate(() => resolve(engine.passes.length)));
  assert.equal(passesSeenByImmediate, 0, 'a macrotask ran while the first pass was still in flight');
  await running;
  assert.equal(engine.passes.length, 3);
});

test('a full queue refuses work as overloaded; cancelling frees the slots before the next pass', async () => {
  const engine = await tinyEngine({ maxBatch: 4, maxQueue: 4 });
  const controller = new AbortController();
  const long = engine.sample(request({ steps: 3000, sampler: 'ddpm' }), 4, { signal: controller.signal });
  await assert.rejects(engine.sample(request(), 1), { code: 'overloaded' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort();
  await assert.rejects(long, { code: 'cancelled' });
  assert.equal(engine.scheduler.activeSequences, 0);
  engine.passes.length = 0;
  const short = await engine.sample(request({ steps: 10, sampler: 'ddpm' }), 1);
  assert.equal(short.samplers.length, 1);
  // The pass running at cancellation time may still carry the cancelled rows; none after it does.
  assert.ok(engine.passes.slice(1).every((pass) => pass.rows === 1), `rows per pass after cancelling: ${engine.passes.map((pass) => pass.rows)}`);
});

test('a forward pass that throws fails only the requests in its batch; the engine goes on', async () => {
  const engine = await tinyEngine();
  // A token id beyond the vocabulary makes onnxruntime's embedding Gather throw.
  const poisoned = engine.sample(request({ length: 16, prefix: [10_000] }), 1);
  const healthy = engine.sample(request({ length: 32 }), 2);
  await assert.rejects(poisoned, (error: Error & { code?: string }) => {
    assert.equal(error.code, 'inference_failed');
    assert.match(error.message, /forward pass failed/);
    return true;
  });
  assert.equal((await healthy).samplers.length, 2);
  assert.equal((await engine.sample(request({ length: 16 }), 1)).samplers.length, 1);
});

test('a worker that dies fails its in-flight requests cleanly and is restarted', async () => {
  const engine = await tinyEngine();
  const running = engine.sample(request({ steps: 5000, sampler: 'ddpm' }), 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const restarted = new Promise((resolve) => engine.runtime.once('ready', resolve));
  const failed = assert.rejects(running, { code: 'worker_crashed' });
  await engine.runtime.recycleWorker(0);
  await failed;
  await restarted;
  assert.equal((await engine.sample(request({ steps: 20 }), 1)).samplers.length, 1);
});

test('a worker that serves between crashes is restarted every time, at once: no restart limit', async () => {
  const engine = await tinyEngine();
  for (let round = 0; round < 7; round++) {
    const ready = once(engine.runtime, 'ready');
    await engine.runtime.recycleWorker(0);
    await ready;
    assert.equal((await engine.sample(request({ steps: 4 }), 1)).samplers.length, 1, `served after restart ${round + 1}`);
  }
});

test('a step hook that throws fails its own request, and the loop carries on', async () => {
  const engine = await tinyEngine();
  const broken = engine.sample(request({ seed: 7 }), 1, {
    onStep: () => {
      throw new Error('a consumer bug');
    },
  });
  const healthy = engine.sample(request({ seed: 8 }), 1);
  await assert.rejects(broken, /a consumer bug/);
  assert.equal((await healthy).samplers.length, 1);
});

test('a job with nothing to run settles at once, with no pass', async () => {
  const engine = await tinyEngine();
  const stats = await engine.engine.submit([]).done;
  assert.equal(stats.forwardPasses, 0);
  assert.equal(engine.passes.length, 0);
});

/** A runtime with no worker that can run, driven by hand: what the loop does when restarts fail and succeed. */
class NoWorkers extends EventEmitter<{ ready: [index: number]; failed: [index: number, reason: string, retryInMs: number] }> implements EngineRuntime {
  idleWorkers = 0;
  readyWorkers = 0;
  startingWorkers = 0;
  execute(): Promise<PassOutput> {
    return Promise.reject(new Error('no pass can run'));
  }
}

test('when no worker can run, queued and new work fails with worker_unavailable; a ready worker lifts it', async () => {
  const runtime = new NoWorkers();
  const engine = new EngineCore(new Scheduler({ maxBatch: 8, maxBatchEntries: 1000, maxQueue: 100, batchWaitMs: 0 }), runtime);
  const facts: ModelFacts = { maskId: 63, modelLength: 32, vocabSize: 64, timeConditioned: false, family: 'mdlm' };
  const queued = engine.submit(samplersFor(request(), 2, facts)).done;
  runtime.startingWorkers = 1;
  runtime.emit('failed', 1, 'another worker failed, but this one may still start', 500);
  assert.equal(engine.unavailableReason, undefined, 'a worker that is starting may yet run the work');
  runtime.startingWorkers = 0;
  runtime.emit('failed', 0, 'model.onnx: no such file', 1000);
  await assert.rejects(queued, { code: 'worker_unavailable', message: /worker 0 could not be restarted \(model\.onnx: no such file\); the next attempt is in 1\.0 s/ });
  assert.throws(() => engine.submit(samplersFor(request(), 1, facts)), { code: 'worker_unavailable' });
  runtime.emit('ready', 0);
  assert.equal(engine.unavailableReason, undefined);
  assert.doesNotThrow(() => engine.submit(samplersFor(request(), 1, facts)), 'admitted again');
});
