import assert from 'node:assert/strict';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { toApiError } from '../../src/server/errors.js';
import { buildWordLevelTokenizer, pseudoWord } from '../../src/tokenizer/index.js';
import { LONG_REQUEST, MODEL_ID, exportVariant, postJson, startServer, tinyExport, waitFor } from './helpers.js';

const server = await startServer({
  config: { maxQueue: 2, limits: { maxSteps: 100_000, maxNumSamples: 4, maxStrides: 8, maxPromptTokens: 8, maxOutputTokens: 64, bodyLimit: 2048 } },
});

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

test('validation_error names the field: wrong types, out-of-range sizes, unknown and missing fields', async () => {
  const cases: [object, string, RegExp][] = [
    [{ prompt: 3 }, 'prompt', /expected string/],
    [{ steps: 'ten' }, 'steps', /expected number/],
    [{ steps: 0 }, 'steps', />=1/],
    [{ steps: 100_001 }, 'steps', /<=100000/],
    [{ num_samples: 5 }, 'num_samples', /<=4/],
    [{ length: 33 }, 'length', /<=32/],
    [{ temperature: -1 }, 'temperature', />=0/],
    [{ sampler: 'dpm' }, 'sampler', /ddpm/],
    [{ seed: 1.5 }, 'seed', /int/],
    [{ semi_ar: { stride_length: 4, num_strides: 9 } }, 'semi_ar.num_strides', /<=8/],
    [{ semi_ar: { stride_length: 4 } }, 'semi_ar.num_strides', /expected number/],
    [{ promt: 'typo' }, 'promt', /unknown field/],
    [{ length: 16, semi_ar: { stride_length: 20, num_strides: 1 } }, 'semi_ar.stride_length', /at most the window length 16/],
  ];
  for (const [body, param, message] of cases) {
    const error = await expectError(await generate(body), 400, 'validation_error', param);
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.message, new RegExp(`^${param.replace('.', '\\.')}: `));
    assert.match(error.message, message);
  }
  await expectError(await postJson(`${server.url}/v1/completions`, { prompt: 'ba' }), 400, 'validation_error', 'model');
  await expectError(await complete({ prompt: ['ba', 'be', 'bi'], n: 2 }), 400, 'validation_error', 'n');
  await expectError(await complete({ prompt: 'ba', max_tokens: 0 }), 400, 'validation_error', 'max_tokens');
});

test('malformed JSON, a wrong content type and an empty body are validation errors', async () => {
  const post = (body: string, contentType: string) => fetch(`${server.url}/v1/generate`, { method: 'POST', headers: { 'content-type': contentType }, body });
  assert.match((await expectError(await post('{"prompt": "ba", ', 'application/json'), 400, 'validation_error')).message, /not valid JSON/);
  assert.match((await expectError(await post('prompt=ba', 'text/plain'), 400, 'validation_error')).message, /application\/json/);
  await expectError(await post('', 'application/json'), 400, 'validation_error');
  await expectError(await post('[1, 2]', 'application/json'), 400, 'validation_error');
});

test('prompt_too_long past the configured limit, and when the prompt leaves nothing to generate', async () => {
  const nineWords = Array.from({ length: 9 }, (_, i) => pseudoWord(i)).join(' ');
  assert.match((await expectError(await generate({ prompt: nineWords }), 400, 'prompt_too_long', 'prompt')).message, /at most 8/);
  await expectError(await generate({ prompt: 'ba be bi', suffix: 'bo', length: 4 }), 400, 'prompt_too_long', 'prompt');
});

test('invalid_argument for checks that need the tokenizer or the model', async () => {
  await expectError(await generate({ prompt: 'ba [MASK]' }), 400, 'invalid_argument');
  assert.match((await expectError(await generate({ semi_ar: { stride_length: 16, num_strides: 3 } }), 400, 'invalid_argument', 'semi_ar')).message, /80 tokens.*at most 64/);
  // 1 + 64 tokens past L = 32: three strides of 16, 80 tokens of output, more than 64.
  await expectError(await complete({ prompt: 'ba', max_tokens: 64 }), 400, 'invalid_argument', 'max_tokens');
  await expectError(await complete({ prompt: 'ba', max_tokens: 40, semi_ar: { stride_length: 4, num_strides: 1 } }), 400, 'invalid_argument', 'semi_ar');
});

test('413 body_too_large for a body over the limit', async () => {
  const error = await expectError(await generate({ prompt: 'ba '.repeat(1000) }), 413, 'body_too_large');
  assert.equal(error.type, 'invalid_request_error');
});

test('404 not_found for an unknown route, model_not_found for a model not served', async () => {
  assert.match((await expectError(await fetch(`${server.url}/v1/nothing?x=1`), 404, 'not_found')).message, /GET \/v1\/nothing$/);
  assert.match((await expectError(await complete({ model: 'gpt-4', prompt: 'ba' }), 404, 'model_not_found', 'model')).message, /"tiny"/);
  await expectError(await fetch(`${server.url}/v1/models/gpt-4`), 404, 'model_not_found', 'model');
});

test('503 overloaded with Retry-After when the queue is full', async () => {
  const client = new AbortController();
  const long = generate({ ...LONG_REQUEST, num_samples: 2 }, { signal: client.signal }).catch(() => undefined);
  await waitFor(() => server.service.scheduler.activeSequences === 2, 'the long request to be admitted');
  const refused = await generate({ steps: 2 });
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal((await expectError(refused, 503, 'overloaded')).type, 'server_error');
  await expectError(await complete({ prompt: 'ba', stream: true }), 503, 'overloaded');
  client.abort();
  await long;
  await waitFor(() => server.service.scheduler.activeSequences === 0, 'the cancelled request to leave');
  assert.equal((await generate({ steps: 2 })).status, 200, 'the queue has room again');
});

test('503 worker_crashed when the inference worker dies mid-request; it is restarted', async () => {
  const long = generate(LONG_REQUEST);
  await waitFor(() => server.service.scheduler.activeSequences === 1, 'the long request to run');
  await server.service.runtime.recycleWorker(0);
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
