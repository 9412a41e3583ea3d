/**
 * Every refusal a request can get before any work runs: the schemas, the checks that need the
 * model, and the envelope. Through Fastify's inject, with no transport; the transport cases
 * (overload, crashes, disconnects) are in errors.test.ts and the other live-socket tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pseudoWord } from '../../src/tokenizer/index.js';
import { MODEL_ID, buildTestApp } from './helpers.js';

const { app } = await buildTestApp({
  config: { maxQueue: 4, limits: { maxSteps: 100_000, maxNumSamples: 4, maxStrides: 8, maxPromptTokens: 8, maxOutputTokens: 64, bodyLimit: 2048 } },
});

interface Reply {
  status: number;
  text: string;
}

async function inject(method: 'GET' | 'POST', url: string, payload?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await app.inject({ method, url, payload, headers });
  return { status: response.statusCode, text: response.body };
}

const injectJson = (url: string, body: unknown) => inject('POST', url, JSON.stringify(body), { 'content-type': 'application/json' });
const generate = (body: unknown) => injectJson('/v1/generate', body);
const complete = (body: object) => injectJson('/v1/completions', { model: MODEL_ID, ...body });

interface ErrorBody {
  code: string;
  message: string;
  type: string;
  param: string | null;
}

async function expectError(reply: Reply, status: number, code: string, param: string | null = null): Promise<ErrorBody> {
  assert.equal(reply.status, status, reply.text);
  const body = JSON.parse(reply.text) as { error: ErrorBody };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code, reply.text);
  assert.equal(body.error.param, param, reply.text);
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
  return body.error;
}

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
  await expectError(await injectJson('/v1/completions', { prompt: 'ba' }), 400, 'validation_error', 'model');
  await expectError(await complete({ prompt: ['ba', 'be', 'bi'], n: 2 }), 400, 'validation_error', 'n');
  await expectError(await complete({ prompt: 'ba', max_tokens: 0 }), 400, 'validation_error', 'max_tokens');
});

test('malformed JSON, a wrong content type and an empty body are validation errors', async () => {
  const post = (body: string, contentType: string) => inject('POST', '/v1/generate', body, { 'content-type': contentType });
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
  await expectError(await generate({ prompt: 'ba [MASK]' }), 400, 'invalid_argument', 'prompt');
  await expectError(await generate({ prompt: 'ba', suffix: '[MASK] bo' }), 400, 'invalid_argument', 'suffix');
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
  assert.match((await expectError(await inject('GET', '/v1/nothing?x=1'), 404, 'not_found')).message, /GET \/v1\/nothing$/);
  assert.match((await expectError(await complete({ model: 'gpt-4', prompt: 'ba' }), 404, 'model_not_found', 'model')).message, /"tiny"/);
  await expectError(await inject('GET', '/v1/models/gpt-4'), 404, 'model_not_found', 'model');
});


test('tokenizer_error names the field when a word-level vocabulary cannot spell the text', async () => {
  assert.match((await expectError(await generate({ prompt: 'ba qwxz' }), 400, 'tokenizer_error', 'prompt')).message, /^prompt: the vocabulary has no piece for "qwxz"/);
  await expectError(await generate({ prompt: 'ba', suffix: 'zzq' }), 400, 'tokenizer_error', 'suffix');
  await expectError(await complete({ prompt: 'qwxz' }), 400, 'tokenizer_error', 'prompt');
  await expectError(await injectJson('/v1/score', { items: [{ text: 'ba qwxz' }] }), 400, 'tokenizer_error', 'items.0');
  await expectError(await injectJson('/tokenize', { prompt: 'qwxz' }), 400, 'tokenizer_error', 'prompt');
});

test('the API document gives every request body a small example this model can run, and responses realistic examples', async () => {
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { example?: Record<string, unknown> } }> }; responses: Record<string, { content?: Record<string, { schema: { example?: unknown } }> }> }>> };
  const body = (path: string) => document.paths[path]?.post?.requestBody?.content['application/json']?.schema.example as Record<string, unknown>;
  assert.deepEqual(body('/v1/generate'), { prompt: 'ba be', length: 32, steps: 32, seed: 1 });
  assert.equal(body('/v1/completions')?.model, MODEL_ID);
  assert.ok((body('/v1/completions')?.max_tokens as number) <= 16);
  assert.deepEqual(body('/v1/score'), { items: [{ text: 'ba be' }], mc_samples: 16, seed: 1 });
  assert.deepEqual(body('/detokenize'), { tokens: [1, 2] });
  for (const example of [body('/v1/generate'), body('/v1/completions'), body('/v1/score'), body('/tokenize')]) {
    const response = await app.inject({ method: 'POST', url: Object.keys(document.paths).find((path) => body(path) === example) ?? '', payload: example });
    assert.equal(response.statusCode, 200, response.body);
  }
  const text = JSON.stringify(document);
  assert.ok(!text.includes('"example":9007199254740991'), 'no example number is the schema maximum');
  const generated = document.paths['/v1/generate']?.post?.responses['200']?.content?.['application/json']?.schema.example as { stats: { steps: number } };
  assert.equal(generated.stats.steps, 32);
  assert.doesNotMatch(text, /"id":"<your id>"/, 'the WebSocket description renders in HTML');
});
