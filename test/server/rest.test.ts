import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { MODEL_ID, completionChunks, metric, postJson, startServer, tinyExport, withEosToken } from './helpers.js';

const server = await startServer();
const tokenizer = await MdlmTokenizer.fromFiles(await tinyExport());
const MASK_ID = 63;
/** The tiny model's end-of-text token in the eos variant: a word the random model writes often. */
const EOS_WORD = 'me';

interface Sample {
  index: number;
  text: string;
  token_ids: number[];
  forward_passes: number;
}

interface Choice {
  index: number;
  text: string;
  finish_reason: string | null;
}

async function generate(body: object, url = server.url): Promise<{ seed: number; samples: Sample[]; stats: Record<string, number> } & Record<string, unknown>> {
  const response = await postJson(`${url}/v1/generate`, body);
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

async function complete(body: object, url = server.url): Promise<{ choices: Choice[]; usage: Record<string, number> } & Record<string, unknown>> {
  const response = await postJson(`${url}/v1/completions`, { model: MODEL_ID, ...body });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

test('POST /v1/generate returns every sample with its token ids, and the statistics', async () => {
  const body = await generate({ prompt: 'ba be', num_samples: 3, steps: 20, seed: 7 });
  assert.match(body.id as string, /^gen-/);
  assert.equal(body.model, MODEL_ID);
  assert.equal(body.seed, 7);
  assert.deepEqual(body.samples.map((sample) => sample.index), [0, 1, 2]);
  for (const sample of body.samples) {
    assert.equal(sample.token_ids.length, 32);
    assert.deepEqual(sample.token_ids.slice(0, 2), tokenizer.encode('ba be'));
    assert.ok(!sample.token_ids.includes(MASK_ID), 'every position is unmasked');
    assert.equal(sample.text, tokenizer.decode(sample.token_ids));
    assert.ok(sample.forward_passes >= 1 && sample.forward_passes <= 21);
  }
  assert.notDeepEqual(body.samples[0]?.token_ids, body.samples[1]?.token_ids, 'samples draw from independent streams');
  assert.equal(body.stats.steps, 20);
  assert.equal(body.stats.forward_passes, body.samples.reduce((sum, sample) => sum + sample.forward_passes, 0));
  assert.equal(body.stats.prompt_tokens, 2);
  assert.equal(body.stats.output_tokens, 3 * 30);
  assert.ok((body.stats.wall_ms as number) >= (body.stats.queued_ms as number) && (body.stats.queued_ms as number) >= 0);
});

test('the same seed gives the same output; length, suffix and semi_ar shape it', async () => {
  const request = { prompt: 'ba', suffix: 'bi bo', length: 10, steps: 8, seed: 11, sampler: 'ddpm' };
  const [first, second] = [await generate(request), await generate(request)];
  assert.deepEqual(first.samples, second.samples);
  const ids = first.samples[0]?.token_ids as number[];
  assert.equal(ids.length, 10);
  assert.deepEqual(ids.slice(-2), tokenizer.encode('bi bo'));
  assert.equal(first.samples[0]?.forward_passes, 9, 'ddpm: one pass per step plus the final one');

  const semiAr = await generate({ length: 16, steps: 5, seed: 2, semi_ar: { stride_length: 8, num_strides: 2 } });
  assert.equal(semiAr.samples[0]?.token_ids.length, 16 + 2 * 8);
  assert.equal(semiAr.stats.steps, 3 * 5);
});

test('stop_at_eos cuts the text at the first end-of-text token after the prompt', async () => {
  const eosServer = await startServer({ exportDir: await withEosToken(await tinyExport(), EOS_WORD) });
  const eos = eosServer.service.model.eosId as number;
  const request = { prompt: 'ba', steps: 10, seed: 5 };
  const [whole, cut] = [await generate(request, eosServer.url), await generate({ ...request, stop_at_eos: true }, eosServer.url)];
  const ids = whole.samples[0]?.token_ids as number[];
  assert.deepEqual(cut.samples[0]?.token_ids, ids, 'the token ids stay whole');
  const at = ids.indexOf(eos, 1);
  assert.ok(at >= 1, 'the seed gives an end-of-text token after the prompt');
  assert.equal(cut.samples[0]?.text, tokenizer.decode(ids.slice(0, at)));

  const completion = await complete({ prompt: 'ba', max_tokens: 20, n: 4, steps: 10, seed: 5 }, eosServer.url);
  const stopped = completion.choices.filter((choice) => choice.finish_reason === 'stop');
  assert.ok(stopped.length > 0, 'some choice reaches the end-of-text token');
  for (const choice of stopped) assert.ok(!` ${choice.text} `.includes(` ${EOS_WORD} `), choice.text);
});

test('POST /v1/completions: n choices per prompt, only the generated text, and usage', async () => {
  const body = await complete({ prompt: ['ba', 'be bi'], n: 2, max_tokens: 5, steps: 10, seed: 3 });
  assert.match(body.id as string, /^cmpl-/);
  assert.equal(body.object, 'text_completion');
  assert.equal(body.model, MODEL_ID);
  assert.deepEqual(body.choices.map((choice) => choice.index), [0, 1, 2, 3]);
  assert.deepEqual(body.usage, { prompt_tokens: 3, completion_tokens: 20, total_tokens: 23 });
  // The window is exactly prompt + max_tokens: the same request on /v1/generate holds the same tokens.
  const reference = await generate({ prompt: 'be bi', length: 7, num_samples: 2, steps: 10, seed: 3 });
  for (const [j, sample] of reference.samples.entries()) {
    const choice = body.choices[2 + j] as Choice;
    assert.equal(choice.text, tokenizer.decode(sample.token_ids.slice(2)));
    assert.equal(choice.text.split(' ').length, 5);
    assert.equal(choice.finish_reason, 'length');
  }
});

test('completions past the model length turn semi-autoregressive and keep max_tokens', async () => {
  const body = await complete({ prompt: 'ba', max_tokens: 60, steps: 6, seed: 9 });
  const text = (body.choices[0] as Choice).text;
  assert.equal(text.split(' ').length, 60);
  assert.ok(!text.includes('[MASK]'));
  // Stride 16 (half of L = 32), enough strides to cover 61 tokens: 2.
  const reference = await generate({ prompt: 'ba', length: 32, steps: 6, seed: 9, semi_ar: { stride_length: 16, num_strides: 2 } });
  assert.equal(text, tokenizer.decode((reference.samples[0] as Sample).token_ids.slice(1, 61)));
});

test('streamed completions: final append-only deltas, then finish_reason, then [DONE]', async () => {
  const request = { prompt: ['ba', 'bo'], n: 2, max_tokens: 24, steps: 40, seed: 21 };
  const plain = await complete(request);
  const response = await postJson(`${server.url}/v1/completions`, { model: MODEL_ID, ...request, stream: true, stream_options: { include_usage: true } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const chunks = await completionChunks(response);
  const usage = chunks.at(-1);
  assert.deepEqual(usage?.choices, []);
  assert.deepEqual(usage?.usage, plain.usage);
  for (const expected of plain.choices) {
    const mine = chunks.flatMap((chunk) => chunk.choices).filter((choice) => choice.index === expected.index);
    assert.equal(mine.map((choice) => choice.text).join(''), expected.text, `choice ${expected.index}`);
    assert.equal(mine.at(-1)?.finish_reason, expected.finish_reason);
    assert.ok(mine.slice(0, -1).every((choice) => choice.finish_reason === null));
    assert.ok(mine.length > 2, `choice ${expected.index} streamed in ${mine.length} chunks`);
  }
});

test('GET /v1/models lists the model, with what a diffusion client needs', async () => {
  const list = await (await fetch(`${server.url}/v1/models`)).json();
  assert.equal(list.object, 'list');
  assert.equal(list.data.length, 1);
  assert.deepEqual({ ...list.data[0], created: 0 }, { id: MODEL_ID, object: 'model', created: 0, owned_by: 'local', model_length: 32, vocab_size: 64, time_conditioning: false, parameterization: 'subs', provider: 'cpu' });
  const one = await (await fetch(`${server.url}/v1/models/${MODEL_ID}`)).json();
  assert.equal(one.id, MODEL_ID);
});

test('health, readiness, metrics, the OpenAPI document and the docs page', async () => {
  assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
  assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready', model: MODEL_ID, provider: 'cpu', ready_workers: 1 });

  const metrics = await fetch(`${server.url}/metrics`);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await metrics.text();
  for (const name of ['mdlm_queue_depth', 'mdlm_active_sequences', 'mdlm_batch_rows_bucket', 'mdlm_forward_pass_seconds_bucket', 'mdlm_forward_passes_total', 'mdlm_generated_tokens_total', 'process_cpu_user_seconds_total']) {
    assert.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  assert.ok((await metric(server, 'mdlm_requests_total', { endpoint: '/v1/generate', outcome: 'ok' })) >= 5);
  assert.ok((await metric(server, 'mdlm_generated_tokens_total')) >= 90);
  assert.ok((await metric(server, 'mdlm_forward_passes_total', { status: 'ok' })) > 0);

  const document = await (await fetch(`${server.url}/openapi.json`)).json();
  assert.ok(document.openapi.startsWith('3.'));
  for (const path of ['/v1/generate', '/v1/completions', '/v1/models', '/healthz', '/readyz', '/metrics']) assert.ok(document.paths[path], path);
  const generateBody = document.paths['/v1/generate'].post.requestBody.content['application/json'].schema;
  assert.equal(generateBody.properties.steps.maximum, 10_000, 'the schema that validates carries the configured limit');
  assert.equal(generateBody.properties.length.maximum, 32, "and the model's length");
  assert.equal(generateBody.additionalProperties, false);

  const docs = await fetch(`${server.url}/docs`);
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger-ui/i);
  assert.equal((await fetch(`${server.url}/docs/static/swagger-ui.css`)).status, 200, 'the assets are served locally');
});

test('a request id is honoured or generated, echoed back, and on the summary line', async () => {
  const mine = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
  assert.equal(mine.headers.get('x-request-id'), 'trace-42');
  const forged = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'bad id\twith "quotes"' } });
  assert.match(forged.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);

  const response = await postJson(`${server.url}/v1/generate`, { steps: 4, seed: 1 }, { headers: { 'x-request-id': 'gen-trace-7' } });
  assert.equal((await response.json()).id, 'gen-gen-trace-7');
  const lines = server.logs.filter((line) => line.request_id === 'gen-trace-7');
  assert.equal(lines.length, 1, 'one line per request');
  assert.deepEqual(
    { ...lines[0], time: 0, pid: 0, hostname: '', duration_ms: 0, wall_ms: 0, queued_ms: 0 },
    { level: 30, time: 0, pid: 0, hostname: '', request_id: 'gen-trace-7', endpoint: '/v1/generate', outcome: 'ok', status: 200, duration_ms: 0, forward_passes: (lines[0] as { forward_passes: number }).forward_passes, steps: 4, wall_ms: 0, queued_ms: 0, msg: 'request finished' },
  );
  assert.ok(server.logs.every((line) => line.msg !== 'request finished' || typeof line.request_id === 'string'));
});
