/** /v1/completions field by field: what OpenAI's API and its clients send, and every bad value refused with the field named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { GPT2_TOKENIZER_DIR, gpt2VocabExport, postJson, sseData, startServer } from './helpers.js';

const MODEL = 'gpt2-vocab';
const server = await startServer({ exportDir: await gpt2VocabExport(), modelId: MODEL });
const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER_DIR);
const complete = (body: object) => postJson(`${server.url}/v1/completions`, { model: MODEL, ...body });

interface Choice {
  index: number;
  text: string;
  finish_reason: string;
  logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] } | null;
}

async function choices(body: object): Promise<Choice[]> {
  const response = await complete(body);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return (JSON.parse(text) as { choices: Choice[] }).choices;
}

test('prompt as text, a list of texts, token ids or a list of token-id lists: the same prompt gives the same choice', async () => {
  const ids = tokenizer.encode('The sky is');
  const common = { max_tokens: 6, seed: 9, steps: 20 };
  const [text, list, tokens, lists] = await Promise.all([
    choices({ ...common, prompt: 'The sky is' }),
    choices({ ...common, prompt: ['The sky is', 'Grass is'] }),
    choices({ ...common, prompt: ids }),
    choices({ ...common, prompt: [ids, tokenizer.encode('Grass is')] }),
  ]);
  assert.equal(list.length, 2);
  assert.equal(lists.length, 2);
  assert.equal(tokens[0]?.text, text[0]?.text);
  assert.equal(lists[0]?.text, list[0]?.text);
  assert.equal(lists[1]?.text, list[1]?.text);
});

test('logprobs: k gives every generated token its draw log-probability and k alternatives; echo puts the prompt first', async () => {
  const [choice] = await choices({ prompt: 'The sky is', max_tokens: 5, logprobs: 3, seed: 2, stop_at_eos: false });
  const logprobs = choice?.logprobs;
  assert.equal(logprobs?.tokens.length, 5);
  assert.equal(logprobs?.tokens.join(''), choice?.text);
  for (const [k, top] of (logprobs?.top_logprobs ?? []).entries()) {
    assert.equal(Object.keys(top ?? {}).length <= 3 && Object.keys(top ?? {}).length >= 1, true);
    assert.ok((logprobs?.token_logprobs[k] as number) <= Math.max(...Object.values(top ?? {})) + 1e-6);
  }
  assert.deepEqual(logprobs?.text_offset, logprobs?.tokens.map((_, k) => logprobs.tokens.slice(0, k).join('').length));
  const [echoed] = await choices({ prompt: 'The sky is', max_tokens: 5, seed: 2, echo: true, stop_at_eos: false });
  assert.equal(echoed?.text, `The sky is${choice?.text}`);
});

test('stop: a choice ends before the first stop sequence, finish_reason stop; streaming sends nothing past it', async () => {
  const common = { prompt: 'A', max_tokens: 24, seed: 11, stop_at_eos: false, temperature: 1.5 };
  const [free] = await choices(common);
  const text = free?.text ?? '';
  const stop = text.slice(6, 8);
  assert.ok(stop.length === 2, 'the seed writes enough text to cut');
  const [cut] = await choices({ ...common, stop: [stop, 'never written'] });
  assert.equal(cut?.text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut?.finish_reason, 'stop');
  const events = await sseData(await complete({ ...common, stop, stream: true }));
  const streamed = events.filter((data) => data !== '[DONE]').map((data) => JSON.parse(data) as { choices: Choice[] });
  assert.equal(streamed.map((event) => event.choices[0]?.text ?? '').join(''), cut?.text);
  assert.equal(streamed.at(-1)?.choices[0]?.finish_reason, 'stop');
});

test('logprobs on SSE chunks cover exactly the streamed text', async () => {
  const events = await sseData(await complete({ prompt: 'The sky is', max_tokens: 8, logprobs: 2, seed: 4, stream: true, stop_at_eos: false }));
  const chunks = events.filter((data) => data !== '[DONE]').map((data) => (JSON.parse(data) as { choices: Choice[] }).choices[0] as Choice);
  const tokens = chunks.flatMap((chunk) => chunk.logprobs?.tokens ?? []);
  assert.equal(tokens.length, 8);
  assert.equal(tokens.join(''), chunks.map((chunk) => chunk.text).join(''));
});

test('penalties, best_of, logit_bias and user: accepted at their neutral values, other values refused as unsupported_parameter', async () => {
  await choices({ prompt: 'Hi', max_tokens: 2, presence_penalty: 0, frequency_penalty: 0, best_of: 1, logit_bias: {}, user: 'someone' });
  await choices({ prompt: 'Hi', max_tokens: 2, n: 2, best_of: 2 });
  for (const [field, value] of [['presence_penalty', 0.5], ['frequency_penalty', -1], ['best_of', 3], ['logit_bias', { '50256': -100 }]] as const) {
    const response = await complete({ prompt: 'Hi', max_tokens: 2, [field]: value });
    const envelope = (await response.json()) as { error: { code: string; param: string } };
    assert.equal(response.status, 400);
    assert.deepEqual([envelope.error.code, envelope.error.param], ['unsupported_parameter', field]);
  }
});

test('bad values are refused with the field named', async () => {
  const refused = async (body: object, code: string, param: string) => {
    const response = await complete({ prompt: 'Hi', ...body });
    const envelope = (await response.json()) as { error: { code: string; param: string | null } };
    assert.equal(response.status, 400, JSON.stringify(envelope));
    assert.deepEqual([envelope.error.code, envelope.error.param], [code, param], JSON.stringify(body));
  };
  await refused({ stop: ['a', 'b', 'c', 'd', 'e'] }, 'validation_error', 'stop');
  await refused({ stop: '' }, 'validation_error', 'stop');
  await refused({ stop: ['a', ''] }, 'validation_error', 'stop.1');
  await refused({ logprobs: 6 }, 'validation_error', 'logprobs');
  await refused({ logprobs: -1 }, 'validation_error', 'logprobs');
  await refused({ max_tokens: 0 }, 'validation_error', 'max_tokens');
  await refused({ prompt: [15496, 50258] }, 'invalid_argument', 'prompt');
  await refused({ prompt: [15496, 50257] }, 'invalid_argument', 'prompt');
  await refused({ prompt: [[15496], []] }, 'validation_error', 'prompt.1');
  await refused({ prompt: [1.5] }, 'validation_error', 'prompt');
  await refused({ top_p: 0 }, 'validation_error', 'top_p');
  await refused({ top_k: -1 }, 'validation_error', 'top_k');
  await refused({ echo: true, logprobs: 1, max_tokens: 40, prompt: 'a b c d e f g h i' }, 'sequence_too_long', 'prompt');
});
