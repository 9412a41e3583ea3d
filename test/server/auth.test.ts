import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamClient, startServer } from './helpers.js';

const KEY = 'correct horse battery staple';
const server = await startServer({ config: { apiKey: KEY } });
const generate = (headers: Record<string, string>) =>
  fetch(`${server.url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ steps: 2 }) });

async function assertUnauthorized(response: Response, message: RegExp): Promise<void> {
  assert.equal(response.status, 401);
  const { error } = await response.json();
  assert.equal(error.code, 'unauthorized');
  assert.equal(error.type, 'authentication_error');
  assert.match(error.message, message);
}

test('without a key, or with a wrong one, requests get 401 unauthorized', async () => {
  await assertUnauthorized(await generate({}), /needs an API key/);
  await assertUnauthorized(await generate({ authorization: 'Bearer nope' }), /not valid/);
  await assertUnauthorized(await generate({ 'x-api-key': `${KEY}x` }), /not valid/);
  await assertUnauthorized(await generate({ authorization: KEY }), /needs an API key/);
  await assertUnauthorized(await fetch(`${server.url}/metrics`), /needs an API key/);
  await assertUnauthorized(await fetch(`${server.url}/v1/models`), /needs an API key/);
});

test('the key is accepted as a bearer token and as x-api-key', async () => {
  assert.equal((await generate({ authorization: `Bearer ${KEY}` })).status, 200);
  assert.equal((await generate({ authorization: `bearer ${KEY}` })).status, 200);
  assert.equal((await generate({ 'x-api-key': KEY })).status, 200);
  assert.equal((await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': KEY } })).status, 200);
});

test('health probes, the API description and the playground page need no key', async () => {
  for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs', '/', '/playground/playground.js']) assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
});

test('the WebSocket upgrade needs the key too', async () => {
  await assert.rejects(StreamClient.connect(server), /Unexpected server response: 401/);
  const client = await StreamClient.connect(server, { authorization: `Bearer ${KEY}` });
  client.send({ type: 'generate', id: 'a', steps: 2 });
  assert.equal((await client.final('a')).type, 'done');
});

test('a browser WebSocket presents the key as a subprotocol; the server selects mdlm.v1 and never echoes the key', async () => {
  const keyProtocol = (key: string) => `mdlm-key.${Buffer.from(key).toString('base64url')}`;
  await assert.rejects(StreamClient.connect(server, {}, ['mdlm.v1', keyProtocol('wrong')]), /Unexpected server response: 401/);
  const client = await StreamClient.connect(server, {}, ['mdlm.v1', keyProtocol(KEY)]);
  assert.equal(client.socket.protocol, 'mdlm.v1');
  client.send({ type: 'generate', id: 'b', steps: 2 });
  assert.equal((await client.final('b')).type, 'done');
});
