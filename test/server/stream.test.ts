import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LONG_REQUEST, type ServerMessage, StreamClient, asDone, asError, metric, postJson, rebuild, startServer, tinyExport, waitFor } from './helpers.js';

const server = await startServer({ config: { limits: { maxSocketRequests: 3 } } });
const MASK_ID = 63;

/** started first, done last, steps between; step numbers never go back within a sample. */
function assertOrder(messages: ServerMessage[]): void {
  assert.equal(messages[0]?.type, 'started');
  assert.equal(messages.at(-1)?.type, 'done');
  const between = messages.slice(1, -1);
  const steps = between.filter((message) => message.type === 'step');
  assert.ok(steps.length > 0 && steps.length === between.length);
  const last = new Map<number, { round: number; step: number; passes: number }>();
  for (const message of steps) {
    const before = last.get(message.sample);
    if (before !== undefined) {
      assert.ok(message.round > before.round || (message.round === before.round && message.step > before.step), 'steps advance');
      // A remasking step needs no pass: passes never go back, and grow with every step that drew.
      assert.ok(message.forward_passes >= before.passes);
    }
    last.set(message.sample, { round: message.round, step: message.step, passes: message.forward_passes });
  }
}

test('several requests share a socket: started, steps, done, and the rebuilt state is the final output', async () => {
  const client = await StreamClient.connect(server);
  const requests = {
    a: { prompt: 'ba be', steps: 20, seed: 1, num_samples: 2, decode_text: true },
    b: { steps: 15, seed: 2, sampler: 'ddpm', length: 20 },
    c: { prompt: 'bo', suffix: 'bi', steps: 30, seed: 3, length: 16, semi_ar: { stride_length: 8, num_strides: 1 }, decode_text: true, mask_text: '__' },
  };
  for (const [id, fields] of Object.entries(requests)) client.send({ type: 'generate', id, ...fields });
  for (const [id, fields] of Object.entries(requests)) {
    const done = asDone(await client.final(id));
    const messages = client.of(id);
    assertOrder(messages);
    const samples = 'num_samples' in fields ? fields.num_samples : 1;
    const { tokens, texts } = rebuild(messages, samples);
    assert.deepEqual(tokens, done.samples.map((sample) => sample.token_ids), `${id}: rebuilt tokens`);
    assert.ok(tokens.every((output) => !output.includes(MASK_ID)));
    if ('decode_text' in fields) assert.deepEqual(texts, done.samples.map((sample) => sample.text), `${id}: the last step's text`);
    else assert.ok(texts.every((text) => text === undefined), 'no text unless asked for');
    // The final message has /v1/generate's shapes and results.
    const { decode_text: _decode, mask_text: _mask, ...generateFields } = fields as Record<string, unknown>;
    const http = await (await postJson(`${server.url}/v1/generate`, generateFields)).json();
    assert.deepEqual(done.samples, http.samples, `${id}: same as /v1/generate`);
    assert.deepEqual(Object.keys(done.stats).sort(), Object.keys(http.stats).sort());
  }
  const started = client.of('c')[0];
  assert.ok(started?.type === 'started');
  assert.deepEqual(
    { ...started, token_ids: started.token_ids.length },
    { type: 'started', id: 'c', seed: 3, prompt_tokens: 1, suffix_tokens: 1, output_length: 24, mask_id: MASK_ID, token_ids: 24, text: `bo ${'__ '.repeat(22)}bi` },
  );
});

test('a cancel message ends one request with cancelled; the others on the socket carry on', async () => {
  const client = await StreamClient.connect(server);
  const cancelledBefore = await metric(server, 'mdlm_requests_total', { endpoint: '/v1/stream', outcome: 'cancelled' });
  client.send({ type: 'generate', id: 'long', ...LONG_REQUEST });
  client.send({ type: 'generate', id: 'short', steps: 10, seed: 4 });
  await client.next((message) => message.id === 'long' && message.type === 'step');
  client.send({ type: 'cancel', id: 'long' });
  client.send({ type: 'cancel', id: 'never-sent' });
  assert.deepEqual(await client.final('long'), { type: 'cancelled', id: 'long' });
  assert.equal((await client.final('short')).type, 'done');
  await waitFor(() => server.service.status().activeSequences === 0, 'the cancelled request to leave the scheduler');
  assert.equal(await metric(server, 'mdlm_requests_total', { endpoint: '/v1/stream', outcome: 'cancelled' }), cancelledBefore + 1);
  assert.equal(client.of('never-sent').length, 0, 'cancelling an unknown id is ignored');
});

test('a duplicate id, malformed messages and bad fields get errors, and the socket stays open', async () => {
  const client = await StreamClient.connect(server);
  client.send({ type: 'generate', id: 'x', ...LONG_REQUEST });
  await client.next((message) => message.id === 'x' && message.type === 'started');
  client.send({ type: 'generate', id: 'x', steps: 2 });
  client.send({ type: 'generate', id: 'x', steps: 'many' });
  // Refusals of messages under an id in flight are not that id's final message: id null, the id in rejected_id.
  const duplicate = asError(await client.next((message) => message.type === 'error' && message.rejected_id === 'x' && message.error.code === 'duplicate_id'));
  assert.equal(duplicate.id, null);
  assert.equal(duplicate.error.param, 'id');
  const malformed = await client.next((message) => message.type === 'error' && message.rejected_id === 'x' && message.error.code === 'validation_error');
  assert.equal(malformed.id, null);
  client.send('not json');
  client.send({ type: 'generate', id: 'y', steps: 'many' });
  client.send({ type: 'shout', id: 'z' });
  const errors = await Promise.all([
    client.next((message) => message.type === 'error' && message.id === null && message.rejected_id === undefined),
    client.next((message) => message.type === 'error' && message.id === 'y'),
    client.next((message) => message.type === 'error' && message.id === 'z'),
  ]);
  assert.deepEqual(
    errors.map(asError).map(({ error }) => [error.code, error.param]),
    [['validation_error', null], ['validation_error', 'steps'], ['validation_error', 'type']],
  );
  client.send({ type: 'cancel', id: 'x' });
  await client.next((message) => message.id === 'x' && message.type === 'cancelled');
  const lifecycle = client.of('x').filter((message) => message.type !== 'step');
  assert.deepEqual(
    lifecycle.map((message) => (message.type === 'error' ? message.error.code : message.type)),
    ['started', 'cancelled'],
    'the request running under the id got exactly one final message; the refusals did not use its id',
  );
  client.send({ type: 'generate', id: 'after', steps: 4, seed: 1 });
  assert.equal((await client.final('after')).type, 'done');
});

test('a socket holds at most maxSocketRequests requests; more are refused as overloaded', async () => {
  const client = await StreamClient.connect(server);
  for (const id of ['1', '2', '3', '4']) client.send({ type: 'generate', id, ...LONG_REQUEST });
  const refused = asError(await client.next((message) => message.id === '4'));
  assert.equal(refused.error.code, 'overloaded');
  client.socket.close();
  await waitFor(() => server.service.status().activeSequences === 0, 'the socket close to cancel its requests');
});

test('closing the socket cancels its requests', async () => {
  const client = await StreamClient.connect(server);
  const cancelledBefore = await metric(server, 'mdlm_requests_total', { endpoint: '/v1/stream', outcome: 'cancelled' });
  client.send({ type: 'generate', id: 'gone', ...LONG_REQUEST, num_samples: 2 });
  await client.next((message) => message.id === 'gone' && message.type === 'step');
  assert.equal(server.service.status().activeSequences, 2);
  client.socket.terminate();
  await waitFor(() => server.service.status().activeSequences === 0, 'the closed socket to cancel its request');
  await waitFor(async () => (await metric(server, 'mdlm_requests_total', { endpoint: '/v1/stream', outcome: 'cancelled' })) === cancelledBefore + 1, `the cancelled outcome ${cancelledBefore} ${await metric(server, 'mdlm_requests_total', { endpoint: '/v1/stream', outcome: 'cancelled' })}`);
});

test('a slow reader gets merged step updates and every final message, and the rebuilt state still matches', async () => {
  // Long texts (L = 512, a 64-character mask placeholder) fill the kernel's socket buffers quickly.
  const slow = await startServer({ exportDir: await tinyExport({ model_length: 512 }), config: { limits: { streamHighWaterMark: 16_384 } } });
  const request = { type: 'generate', steps: 1000, seed: 8, num_samples: 2, decode_text: true, mask_text: '#'.repeat(64) };

  const reader = await StreamClient.connect(slow);
  reader.send({ ...request, id: 'fast' });
  await reader.final('fast', 60_000);
  const everyStep = reader.of('fast').filter((message) => message.type === 'step').length;

  const client = await StreamClient.connect(slow);
  client.send({ ...request, id: 'slow' });
  await client.next((message) => message.type === 'started');
  client.connection.pause();
  await waitFor(() => slow.service.status().activeSequences === 0, 'the generation to finish while the client does not read', 60_000);
  client.connection.resume();
  const done = asDone(await client.final('slow', 60_000));
  const messages = client.of('slow');
  assertOrder(messages);
  const merged = messages.filter((message) => message.type === 'step').length;
  assert.ok(merged < everyStep, `merged updates: ${merged} step messages instead of ${everyStep}`);
  const { tokens, texts } = rebuild(messages, 2);
  assert.deepEqual(tokens, done.samples.map((sample) => sample.token_ids));
  assert.deepEqual(texts, done.samples.map((sample) => sample.text));
  assert.deepEqual(done.samples, asDone(await reader.final('fast')).samples, 'the same seed, the same output');
});

test('remasking samplers: step messages carry the positions that went back to the mask; rebuilding still ends at done, slow reader included', async () => {
  const client = await StreamClient.connect(server);
  const request = { type: 'generate', sampler: 'remdm-loop', eta: 0.1, steps: 200, seed: 4, num_samples: 2, length: 24, decode_text: true };
  client.send({ ...request, id: 'loop' });
  const final = asDone(await client.final('loop'));
  const messages = client.of('loop');
  assertOrder(messages);
  const steps = messages.filter((message) => message.type === 'step');
  assert.ok(steps.some((message) => message.remasked.length > 0), 'some tokens went back to the mask');
  const { tokens, texts } = rebuild(messages, 2);
  assert.deepEqual(tokens, final.samples.map((sample) => sample.token_ids));
  assert.deepEqual(texts, final.samples.map((sample) => sample.text));

  const slow = await startServer({ exportDir: await tinyExport({ model_length: 256 }), config: { limits: { streamHighWaterMark: 8_192 } } });
  const reader = await StreamClient.connect(slow);
  reader.send({ ...request, id: 'slow', length: 256, steps: 400, eta: 0.05, mask_text: '#'.repeat(32) });
  await reader.next((message) => message.type === 'started');
  reader.connection.pause();
  await waitFor(() => slow.service.status().activeSequences === 0, 'the generation to finish while the client does not read', 60_000);
  reader.connection.resume();
  const slowFinal = asDone(await reader.final('slow', 60_000));
  const rebuilt = rebuild(reader.of('slow'), 2);
  assert.deepEqual(rebuilt.tokens, slowFinal.samples.map((sample) => sample.token_ids), 'merged updates with remasks rebuild the output exactly');
});
