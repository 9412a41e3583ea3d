/**
 * The gauges an inference gateway's endpoint picker scrapes (the Gateway API Inference
 * Extension's model-server protocol): requests waiting, requests running, and the share of the
 * admission queue in use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LONG_REQUEST, postJson, startServer, waitFor } from './helpers.js';

const GAUGES = ['mdlm_num_requests_waiting', 'mdlm_num_requests_running', 'mdlm_queue_usage_ratio'] as const;

async function gauges(url: string): Promise<Record<(typeof GAUGES)[number], number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
    assert.ok(line !== undefined, `${name} is exported`);
    return Number(line.slice(name.length + 1));
  };
  return Object.fromEntries(GAUGES.map((name) => [name, value(name)])) as Record<(typeof GAUGES)[number], number>;
}

test('the gateway gauges: idle, then one request of 3 samples running in a queue of 8', async () => {
  const server = await startServer({ config: { maxQueue: 8, limits: { maxNumSamples: 4 } } });
  assert.deepEqual(await gauges(server.url), { mdlm_num_requests_waiting: 0, mdlm_num_requests_running: 0, mdlm_queue_usage_ratio: 0 });
  const client = new AbortController();
  const running = postJson(`${server.url}/v1/generate`, { ...LONG_REQUEST, num_samples: 3 }, { signal: client.signal }).catch(() => undefined);
  await waitFor(async () => (await gauges(server.url)).mdlm_num_requests_running === 1, 'the request to run');
  assert.deepEqual(await gauges(server.url), { mdlm_num_requests_waiting: 0, mdlm_num_requests_running: 1, mdlm_queue_usage_ratio: 3 / 8 });
  client.abort();
  await running;
  await waitFor(async () => (await gauges(server.url)).mdlm_queue_usage_ratio === 0, 'the cancelled request to leave the queue');
});
