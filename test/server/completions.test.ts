/** /v1/completions field by field: what OpenAI's API and its clients send, and every bad value refused with the field named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { type CompletionResponse, CompletionResponseSchema } from '../../src/server/index.js';
import { GPT2_TOKENIZER_DIR, completionChunks, gpt2VocabExport, postJson, startServer } from './helpers.js';

const MODEL = 'gpt2-vocab';
const server = await startServer({ exportDir: await gpt2VocabExport(), modelId: MODEL });
const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER_DIR);
const complete = (body: Record<string, unknown>) => postJson(`${server.url}/v1/completions`, { model: MODEL, ...body });

async function choices(body: Record<string, unknown>): Promise<CompletionResponse['choices']> {
  const response = await complete(body);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return CompletionResponseSchema.parse(JSON.parse(text)).choices;
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
  const streamed = await completionChunks(await complete({ ...common, stop, stream: true }));
  assert.equal(streamed.map((event) => event.choices[0]?.text ?? '').join(''), cut?.text);
  assert.equal(streamed.at(-1)?.choices[0]?.finish_reason, 'stop');
});

test('logprobs on SSE chunks cover exactly the streamed text', async () => {
  const chunks = await completionChunks(await complete({ prompt: 'The sky is', max_tokens: 8, logprobs: 2, seed: 4, stream: true, stop_at_eos: false }));
  const choices = chunks.flatMap((chunk) => chunk.choices);
  const tokens = choices.flatMap((choice) => choice.logprobs?.tokens ?? []);
  assert.equal(tokens.length, 8);
  assert.equal(tokens.join(''), choices.map((choice) => choice.text).join(''));
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
  const refused = async (body: Record<string, unknown>, code: string, param: string) => {
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

test('streaming with a remasking sampler sends only text that can no longer change: at the end for remdm-cap, from t_off on for remdm-loop', async () => {
  const common = { prompt: 'The sky is', max_tokens: 8, seed: 5, steps: 64, stop_at_eos: false, stream: true };
  for (const sampler of ['remdm-cap', 'remdm-loop']) {
    const [plain] = await choices({ ...common, stream: false, sampler });
    const events = (await completionChunks(await complete({ ...common, sampler }))).flatMap((chunk) => chunk.choices);
    assert.equal(events.map((event) => event.text).join(''), plain?.text, `${sampler}: the chunks add up to the text`);
    const early = events.slice(0, -1).filter((event) => event.text !== '').length;
    if (sampler === 'remdm-cap') assert.equal(early, 0, 'remdm-cap can remask until the last step: all text comes at the end');
  }
});

test('the new samplers and their knobs: accepted where they apply, refused with the field named where they do not', async () => {
  for (const sampler of ['analytic', 'remdm-cap', 'remdm-rescale', 'remdm-loop', 'remdm-conf']) await choices({ prompt: 'Hi', max_tokens: 3, steps: 16, sampler });
  await choices({ prompt: 'Hi', max_tokens: 3, steps: 16, sampler: 'remdm-loop', eta: 0.05, t_on: 0.6, t_off: 0.1, alpha_on: 0.8, top_p: 0.9, top_k: 20 });
  const refused = async (body: Record<string, unknown>, param: string, message: RegExp) => {
    const response = await complete({ prompt: 'Hi', max_tokens: 3, ...body });
    const envelope = (await response.json()) as { error: { code: string; param: string; message: string } };
    assert.equal(response.status, 400, JSON.stringify(envelope));
    assert.equal(envelope.error.param, param);
    assert.match(envelope.error.message, message);
  };
  await refused({ sampler: 'remdm-loop', eta: 0.2 }, 'eta', /\[0, 0\.1111\].*\(1 − alpha_on\)\/alpha_on/);
  await refused({ sampler: 'remdm-cap', eta: 1.5 }, 'eta', /\[0, 1\.000\]/);
  await refused({ sampler: 'ddpm_cache', eta: 0.01 }, 'eta', /does not apply to the ddpm_cache sampler/);
  await refused({ sampler: 'remdm-conf', eta: 0.01 }, 'eta', /does not apply to the remdm-conf sampler/);
  await refused({ sampler: 'remdm-cap', t_on: 0.5 }, 't_on', /remdm-loop only/);
  await refused({ sampler: 'remdm-loop', t_on: 0.1, t_off: 0.2 }, 't_on', /0 < t_off < t_on < 1/);
  await refused({ sampler: 'remdm-loop', alpha_on: 1 }, 'alpha_on', /</);
});
