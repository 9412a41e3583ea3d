/**
 * A rolling update behind a real load balancer (HAProxy, from the README's apt line), kept
 * short: 2 replicas of the real CLI, each replaced once under a mixed load. bench/
 * rolling-update.ts runs the long version and prints the figures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RollOptionsSchema, rollingUpdate } from '../../bench/rolling-update.js';

test('replicas replaced one at a time behind HAProxy: no request lost, every stream finished, every seeded answer the same', async () => {
  const roll = await rollingUpdate(RollOptionsSchema.parse({ replicas: 2, rolls: 2, concurrency: 3, steadySeconds: 1 }));
  assert.equal(roll.rolls, 2);
  assert.deepEqual(roll.exitCodes, [0, 0], 'each replica drained and exited 0');
  assert.ok(roll.requests.duringRoll >= 20, `requests were in flight while the replicas were replaced (${roll.requests.duringRoll})`);
  for (const kind of ['generate', 'sse', 'websocket', 'score'] as const) assert.ok(roll.byKind[kind] > 0, `${kind} requests were sent`);
  assert.deepEqual(roll.failures, []);
});
