/**
 * lm-evaluation-harness's local-completions backend, replayed request for request (its
 * lm_eval/models/openai_completions.py and RemoteTokenizer): the tokenizer probes, the
 * loglikelihood payload with echo and logprobs, and generate_until; with raw fetch as the
 * harness sends them and with the official openai client. On a GPT-2-vocabulary model.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import OpenAI from 'openai';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { exactLeftToRight } from '../helpers/exact-likelihood.js';
import { GPT2_TOKENIZER_DIR, gpt2VocabExports, postJson, startServer } from './helpers.js';

const MODEL = 'gpt2-vocab';
const exports = await gpt2VocabExports();
const server = await startServer({ exportDir: exports.positions, modelId: MODEL });
const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER_DIR);
const BOS = 50256;
const MASK = 50257;

interface Logprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

interface Completion {
  choices: { index: number; text: string; logprobs: Logprobs | null; finish_reason: string }[];
}

test('the remote-tokenizer probes: /tokenizer_info names eos, /tokenize and /detokenize in vLLM shapes', async () => {
  const info = (await (await fetch(`${server.url}/tokenizer_info`)).json()) as Record<string, unknown>;
  assert.equal(info.eos_token, '<|endoftext|>');
  assert.equal(info.bos_token, '<|endoftext|>');
  assert.equal(info.model_max_length, 48);
  const tokenized = (await (await postJson(`${server.url}/tokenize`, { prompt: 'test', add_special_tokens: false })).json()) as { tokens: number[]; count: number; max_model_len: number };
  assert.deepEqual(tokenized, { tokens: tokenizer.encode('test'), count: 1, max_model_len: 48 });
  const eos = (await (await postJson(`${server.url}/tokenize`, { prompt: '<|endoftext|>', add_special_tokens: false })).json()) as { tokens: number[] };
  assert.deepEqual(eos.tokens, [BOS], 'eos_token_id resolves as the harness computes it');
  const detokenized = (await (await postJson(`${server.url}/detokenize`, { tokens: tokenizer.encode(' Hello world') })).json()) as { prompt: string };
  assert.equal(detokenized.prompt, ' Hello world');
});

/** lm-eval's loglikelihood payload for a batch of (context, continuation) token lists. */
function loglikelihoodPayload(requests: { context: number[]; continuation: number[] }[]) {
  return { model: MODEL, prompt: requests.map(({ context, continuation }) => [...context, ...continuation]), temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true };
}

/** What lm-eval's parse_logprobs does with each choice. */
function parse(choice: Completion['choices'][number], contextLength: number): { logprob: number; greedy: boolean } {
  const logprobs = choice.logprobs as Logprobs;
  const tokens = logprobs.token_logprobs.slice(contextLength, -1) as number[];
  const tops = logprobs.top_logprobs.slice(contextLength, -1) as Record<string, number>[];
  return { logprob: tokens.reduce((sum, value) => sum + value, 0), greedy: tokens.every((value, k) => value === Math.max(...Object.values(tops[k] as Record<string, number>))) };
}

test('loglikelihood: echo + logprobs give each prompt token its left-to-right conditional in the window BOS + prompt + max_tokens', async () => {
  const requests = [
    { context: tokenizer.encode('The capital of France is'), continuation: tokenizer.encode(' Paris') },
    { context: tokenizer.encode('One plus one'), continuation: tokenizer.encode(' is two') },
  ];
  const response = await postJson(`${server.url}/v1/completions`, loglikelihoodPayload(requests));
  const completion = (await response.json()) as Completion;
  assert.equal(response.status, 200, JSON.stringify(completion));
  const session = await ort.InferenceSession.create(join(exports.logits, 'model.onnx'));
  for (const [p, { context, continuation }] of requests.entries()) {
    const choice = completion.choices[p] as Completion['choices'][number];
    const prompt = [...context, ...continuation];
    const logprobs = choice.logprobs as Logprobs;
    assert.equal(logprobs.tokens.length, prompt.length + 1, 'the prompt, then the generated token');
    assert.ok(choice.text.startsWith(tokenizer.decode(prompt)), 'text includes the prompt');
    assert.equal(typeof logprobs.token_logprobs[0], 'number', 'framed by BOS, the first prompt token has a conditional');
    const window = [BOS, ...prompt, MASK];
    const exact = await exactLeftToRight({ session, maskId: MASK, tokens: window, start: 1, end: 1 + prompt.length, timeConditioned: false });
    prompt.forEach((_, k) => assert.ok(Math.abs((logprobs.token_logprobs[k] as number) - (exact[k] as number)) < 1e-4, `prompt token ${k}`));
    const { logprob, greedy } = parse(choice, context.length);
    const expected = exact.slice(context.length).reduce((sum, value) => sum + value, 0);
    assert.ok(Math.abs(logprob - expected) < 1e-4);
    assert.equal(typeof greedy, 'boolean');
    for (const [k, top] of logprobs.top_logprobs.slice(0, prompt.length).entries()) {
      assert.ok((logprobs.token_logprobs[k] as number) <= Math.max(...Object.values(top ?? {})) + 1e-6, 'the top alternative is the most likely');
    }
  }
  await session.release();
});

test('the greedy check means something: a continuation of argmax tokens is greedy, another is not', async () => {
  const context = tokenizer.encode('A B C');
  const probe = (await (await postJson(`${server.url}/v1/completions`, loglikelihoodPayload([{ context, continuation: [11] }]))).json()) as Completion;
  const top = (probe.choices[0]?.logprobs as Logprobs).top_logprobs[context.length] as Record<string, number>;
  const best = Object.entries(top).sort((a, b) => b[1] - a[1])[0]?.[0] as string;
  const bestId = tokenizer.encode(best);
  assert.equal(bestId.length, 1);
  const [greedy, other] = await Promise.all(
    [bestId, [bestId[0] === 11 ? 13 : 11]].map(async (continuation) => {
      const completion = (await (await postJson(`${server.url}/v1/completions`, loglikelihoodPayload([{ context, continuation }]))).json()) as Completion;
      return parse(completion.choices[0] as Completion['choices'][number], context.length).greedy;
    }),
  );
  assert.deepEqual([greedy, other], [true, false]);
});

test('generate_until: token-id prompts, stop sequences, temperature 0 and a seed', async () => {
  const prompt = tokenizer.encode('Question: what is it?\nAnswer:');
  const payload = { prompt: [prompt], model: MODEL, max_tokens: 12, temperature: 0, stop: ['\n\n', 'Question:', '<|endoftext|>'], seed: 1234 };
  const [first, second] = await Promise.all([0, 1].map(async () => (await (await postJson(`${server.url}/v1/completions`, payload)).json()) as Completion));
  const choice = first?.choices[0] as Completion['choices'][number];
  for (const stop of payload.stop) assert.ok(!choice.text.includes(stop), `no ${JSON.stringify(stop)} in ${JSON.stringify(choice.text)}`);
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.equal(second?.choices[0]?.text, choice.text, 'temperature 0 with a seed is deterministic');
});

test('the official openai client: completions.create with echo, logprobs and stop', async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const prompt = tokenizer.encode('Hello there');
  const completion = await client.completions.create({ model: MODEL, prompt: [prompt], max_tokens: 1, logprobs: 1, echo: true, temperature: 0, seed: 1234 });
  const logprobs = completion.choices[0]?.logprobs;
  assert.equal(logprobs?.token_logprobs?.length, prompt.length + 1);
  assert.equal(logprobs?.text_offset?.[0], 0);
  const stopped = await client.completions.create({ model: MODEL, prompt: 'Hello', max_tokens: 10, stop: ['e'], seed: 3 });
  assert.ok(!stopped.choices[0]?.text.includes('e'));
  const scoredOnly = await client.completions.create({ model: MODEL, prompt: 'Hello there', max_tokens: 0, echo: true, logprobs: 0 });
  assert.equal(scoredOnly.choices[0]?.text, 'Hello there');
  assert.equal(scoredOnly.usage?.completion_tokens, 0);
});
