import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startServer } from './helpers.js';

const API_KEY = 'sk-test-key';
/** A hub-style id: the slash must survive the client's URL encoding in models.retrieve(). */
const MODEL_ID = 'owner/tiny-mdlm';
const server = await startServer({ config: { apiKey: API_KEY }, modelId: MODEL_ID });
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
/** Diffusion options are extra body fields, which the client passes through unchanged. */
const REQUEST = { model: MODEL_ID, prompt: 'ba be', max_tokens: 12, n: 2, seed: 17, temperature: 0.8, steps: 30 } as OpenAI.CompletionCreateParamsNonStreaming;

test('client.models.list() and retrieve()', async () => {
  const models = [];
  for await (const model of client.models.list()) models.push(model);
  assert.deepEqual(models.map((model) => model.id), [MODEL_ID]);
  assert.equal((models[0] as unknown as { model_length: number }).model_length, 32);
  assert.equal((await client.models.retrieve(MODEL_ID)).id, MODEL_ID);
});

test('client.completions.create() returns the generated text and usage', async () => {
  const completion = await client.completions.create(REQUEST);
  assert.equal(completion.object, 'text_completion');
  assert.equal(completion.model, MODEL_ID);
  assert.equal(completion.choices.length, 2);
  for (const choice of completion.choices) {
    assert.equal(choice.text.split(' ').length, 12);
    assert.equal(choice.finish_reason, 'length');
  }
  assert.deepEqual(completion.usage, { prompt_tokens: 2, completion_tokens: 24, total_tokens: 26 });
});

test('stream: true yields chunks that add up to the same completion', async () => {
  const plain = await client.completions.create(REQUEST);
  const stream = await client.completions.create({ ...REQUEST, stream: true });
  const texts = ['', ''];
  const finish: (string | null)[] = [null, null];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const choice of chunk.choices) {
      assert.equal(finish[choice.index], null, 'nothing after finish_reason');
      texts[choice.index] += choice.text;
      finish[choice.index] = choice.finish_reason;
    }
  }
  assert.deepEqual(texts, plain.choices.map((choice) => choice.text));
  assert.deepEqual(finish, ['length', 'length']);
  assert.ok(chunks > 4, `${chunks} chunks`);
});

test("errors arrive as the client's typed exceptions", async () => {
  await assert.rejects(client.completions.create({ ...REQUEST, model: 'gpt-4' }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, 'model_not_found');
    return true;
  });
  await assert.rejects(client.completions.create({ ...REQUEST, n: 99 }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.code, 'validation_error');
    assert.equal(error.param, 'n');
    return true;
  });
  const stranger = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(stranger.completions.create(REQUEST), OpenAI.AuthenticationError);
});
