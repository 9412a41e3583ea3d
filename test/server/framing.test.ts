/** Spec §7 framing, token by token on a GPT-2-vocabulary model: BOS before a prompt, EOS after a suffix, nothing forced otherwise. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { GPT2_TOKENIZER_DIR, StreamClient, gpt2VocabExport, postJson, startServer } from './helpers.js';

const server = await startServer({ exportDir: await gpt2VocabExport(), modelId: 'gpt2-vocab' });
const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER_DIR);
const EOT = 50256;

interface Generated {
  samples: { token_ids: number[]; text: string }[];
  stats: { prompt_tokens: number; output_tokens: number };
}

async function generate(body: object): Promise<Generated> {
  const response = await postJson(`${server.url}/v1/generate`, { steps: 8, seed: 5, length: 16, ...body });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as Generated;
}

test('a prompt starts at BOS, a suffix ends at EOS; the counts are the prompt and suffix alone', async () => {
  const prompt = tokenizer.encode('Hello there');
  const suffix = tokenizer.encode(' the end');
  const { samples, stats } = await generate({ prompt: 'Hello there', suffix: ' the end' });
  const ids = samples[0]?.token_ids as number[];
  assert.deepEqual(ids.slice(0, 1 + prompt.length), [EOT, ...prompt]);
  assert.deepEqual(ids.slice(-suffix.length - 1), [...suffix, EOT]);
  assert.equal(stats.prompt_tokens, prompt.length);
  assert.equal(stats.output_tokens, 16 - prompt.length - suffix.length - 2);
  assert.ok(samples[0]?.text.startsWith('<|endoftext|>Hello there'), 'the whole output shows the framing token as what it is');
});

test('add_special_tokens: false places the prompt at position 0 and the suffix at the very end', async () => {
  const prompt = tokenizer.encode('Hello there');
  const { samples } = await generate({ prompt: 'Hello there', suffix: ' the end', add_special_tokens: false });
  const ids = samples[0]?.token_ids as number[];
  assert.deepEqual(ids.slice(0, prompt.length), prompt);
  const suffix = tokenizer.encode(' the end');
  assert.deepEqual(ids.slice(-suffix.length), suffix);
});

test('unconditional generation is the seed’s: nothing is forced at either end', async () => {
  const framed = await generate({});
  const unframed = await generate({ add_special_tokens: false });
  assert.deepEqual(framed.samples[0]?.token_ids, unframed.samples[0]?.token_ids, 'framing changes nothing without a prompt or suffix');
});

test('semi-autoregressive rounds: BOS only at position 0 of the whole output; later windows begin mid-text', async () => {
  const prompt = tokenizer.encode('Once upon a time');
  const { samples } = await generate({ prompt: 'Once upon a time', semi_ar: { stride_length: 8, num_strides: 2 } });
  const ids = samples[0]?.token_ids as number[];
  assert.equal(ids.length, 16 + 2 * 8);
  assert.deepEqual(ids.slice(0, 1 + prompt.length), [EOT, ...prompt]);
});

test('a completion’s text never includes the framing token; the WebSocket takes add_special_tokens too', async () => {
  const response = await postJson(`${server.url}/v1/completions`, { model: 'gpt2-vocab', prompt: 'Hello', max_tokens: 4, seed: 3, stop_at_eos: false });
  const completion = (await response.json()) as { choices: { text: string }[]; usage: { prompt_tokens: number } };
  assert.ok(!completion.choices[0]?.text.startsWith('<|endoftext|>Hello'));
  assert.equal(completion.usage.prompt_tokens, 1);
  const client = await StreamClient.connect(server);
  client.send({ type: 'generate', id: 'a', prompt: 'Hello', length: 8, steps: 4, seed: 1, add_special_tokens: false });
  const started = await client.next((message) => message.type === 'started');
  assert.deepEqual(started.token_ids.slice(0, 1), tokenizer.encode('Hello'));
  await client.final('a');
});
