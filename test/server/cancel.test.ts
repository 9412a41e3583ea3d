import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LONG_REQUEST, MODEL_ID, metric, postJson, startServer, waitFor } from './helpers.js';

const server = await startServer();
const running = () => waitFor(() => server.service.status().activeSequences === 2, 'the request to run');

/**
 * `start` sends a long two-sample request and resolves once it runs; then the client hangs
 * up. The work must stop (the scheduler empties long before the request could finish) and
 * count as cancelled.
 */
async function assertDisconnectCancels(endpoint: string, start: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const before = await metric(server, 'mdlm_requests_total', { endpoint, outcome: 'cancelled' });
  const passesBefore = await metric(server, 'mdlm_forward_passes_total', { status: 'ok' });
  const client = new AbortController();
  await start(client.signal);
  client.abort();
  await waitFor(() => server.service.status().activeSequences === 0, 'the disconnect to cancel the work');
  await waitFor(async () => (await metric(server, 'mdlm_requests_total', { endpoint, outcome: 'cancelled' })) === before + 1, 'the cancelled outcome');
  const passes = (await metric(server, 'mdlm_forward_passes_total', { status: 'ok' })) - passesBefore;
  assert.ok(passes < LONG_REQUEST.steps, `stopped after ${passes} passes, long before the ${LONG_REQUEST.steps + 1} it needed`);
  assert.equal(server.logs.findLast((line) => line.endpoint === endpoint)?.outcome, 'cancelled');
  assert.deepEqual(server.logs.filter((line) => (line.level as number) >= 40), [], 'a client going away is no warning or error');
}

test('a plain HTTP client that disconnects cancels its request', async () => {
  await assertDisconnectCancels('/v1/generate', async (signal) => {
    let answered = false;
    postJson(`${server.url}/v1/generate`, { ...LONG_REQUEST, num_samples: 2 }, { signal }).then(() => (answered = true), () => undefined);
    await running();
    assert.equal(answered, false, 'the response only comes at the end');
  });
});

test('an SSE client that disconnects cancels its completion', async () => {
  await assertDisconnectCancels('/v1/completions', async (signal) => {
    const response = await postJson(`${server.url}/v1/completions`, { model: MODEL_ID, prompt: 'ba', max_tokens: 20, n: 2, stream: true, ...LONG_REQUEST }, { signal });
    assert.equal(response.status, 200);
    await running();
    // Events are flowing: the first delta arrives once the tokens right after the prompt are unmasked.
    const { value } = await (response.body as ReadableStream<Uint8Array>).getReader().read();
    assert.match(new TextDecoder().decode(value), /^data: \{/);
  });
});

test('SSE clients that hang up at any moment, before the first event included, are cancellations, never logged as failures', async () => {
  const logged = server.logs.length;
  for (let i = 0; i < 60; i++) {
    const client = new AbortController();
    setTimeout(() => client.abort(), i % 20);
    const request = postJson(`${server.url}/v1/completions`, { model: MODEL_ID, prompt: 'ba', max_tokens: 8, stream: true, seed: i }, { signal: client.signal });
    await request.then((response) => response.text()).catch(() => undefined);
  }
  await waitFor(() => server.service.status().activeSequences === 0, 'every request to end');
  assert.deepEqual(server.logs.slice(logged).filter((line) => (line.level as number) >= 40), [], 'a client going away is no warning or error');
});
