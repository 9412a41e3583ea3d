import assert from 'node:assert/strict';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { toApiError } from '../../src/server/errors.js';
import { buildWordLevelTokenizer } from '../../src/tokenizer/index.js';
import { LONG_REQUEST, MODEL_ID, exportVariant, postJson, startServer, tinyExport, waitFor } from './helpers.js';

/** Transport-level failures over real HTTP: overload, a crashing worker, a model that cannot load. */
const server = await startServer({ config: { maxQueue: 2, limits: { maxSteps: 100_000, maxNumSamples: 2 } } });

interface Envelope {
  error: { code: string; message: string; type: string; param: string | null };
}

async function expectError(response: Response, status: number, code: string, param: string | null = null): Promise<Envelope['error']> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = JSON.parse(text) as Envelope;
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, text);
  assert.equal(body.error.param, param, text);
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
  return body.error;
}

const generate = (body: unknown, init?: RequestInit) => postJson(`${server.url}/v1/generate`, body, init);
const complete = (body: object) => postJson(`${server.url}/v1/completions`, { model: MODEL_ID, ...body });

test('503 overloaded with Retry-After when the queue is full', async () => {
  const client = new AbortController();
  const long = generate({ ...LONG_REQUEST, num_samples: 2 }, { signal: client.signal }).catch(() => undefined);
  await waitFor(() => server.service.status().activeSequences === 2, 'the long request to be admitted');
  const refused = await generate({ steps: 2 });
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal((await expectError(refused, 503, 'overloaded')).type, 'server_error');
  await expectError(await complete({ prompt: 'ba', stream: true }), 503, 'overloaded');
  client.abort();
  await long;
  await waitFor(() => server.service.status().activeSequences === 0, 'the cancelled request to leave');
  assert.equal((await generate({ steps: 2 })).status, 200, 'the queue has room again');
});

test('503 worker_crashed when the inference worker dies mid-request; it is restarted', async () => {
  const long = generate(LONG_REQUEST);
  await waitFor(() => server.service.status().activeSequences === 1, 'the long request to run');
  await server.service.restartWorker(0);
  await expectError(await long, 503, 'worker_crashed');
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, 'a replacement worker');
  assert.equal((await generate({ steps: 2 })).status, 200);
});

test('a tokenizer that does not fit the model is refused when the model loads, not on every request', async () => {
  // A tokenizer larger than the model: its later words would index past the embedding table.
  const exportDir = await exportVariant(await tinyExport(), async (dir) => {
    const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(128);
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')), ...tokenizerConfig }));
  });
  await assert.rejects(startServer({ exportDir }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'tokenizer_error');
    assert.match(error.message, /the tokenizer \(128 tokens, mask id 127\) does not fit the model \(vocab_size 64, mask id 63\)/);
    return true;
  });
});

test('a failed forward pass is a 500 inference_failed server_error (the engine test makes a real one fail)', () => {
  const api = toApiError(new MdlmError(ErrorCodes.inferenceFailed, 'forward pass failed: Gather index out of range'));
  assert.deepEqual({ ...api }, { status: 500, code: 'inference_failed', message: 'forward pass failed: Gather index out of range', type: 'server_error', param: null, headers: {} });
});

test('an unexpected error is internal_error, its message kept out of the response', () => {
  const api = toApiError(new Error('secret detail from deep inside'));
  assert.deepEqual({ ...api }, { status: 500, code: 'internal_error', message: 'internal error', type: 'server_error', param: null, headers: {} });
});
