/** The seed's baselines served: what each endpoint does with them, and what it refuses by field. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pseudoWord } from '../../src/tokenizer/index.js';
import { exportCkpt, wordTokenizerDir } from '../helpers/baselines.js';
import { completionChunks, postJson, startServer } from './helpers.js';

const words = (...ids: number[]) => ids.map((id) => pseudoWord(id - 1)).join(' ');
const ar = await startServer({ exportDir: await exportCkpt('ar', 'positions', { tokenizerDir: wordTokenizerDir(20, true) }), modelId: 'ar' });
const sedd = await startServer({ exportDir: await exportCkpt('sedd', 'positions', { tokenizerDir: wordTokenizerDir(20, true) }), modelId: 'sedd' });

async function errorOf(response: Response): Promise<{ status: number; code: string; param: string | null }> {
  const body = (await response.json()) as { error: { code: string; param: string | null } };
  return { status: response.status, code: body.error.code, param: body.error.param };
}

test('/v1/models says how each model is read', async () => {
  for (const [server, parameterization] of [[ar, 'ar'], [sedd, 'sedd']] as const) {
    const list = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { parameterization: string }[] };
    assert.equal(list.data[0]?.parameterization, parameterization);
  }
});

test('/v1/score with the AR baseline: ar by default, one pass per item; elbo refused with unsupported_method', async () => {
  const response = await postJson(`${ar.url}/v1/score`, { items: [{ text: words(4, 5, 6) }, { token_ids: [7, 8], context: [3] }] });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { method: string; items: { tokens: number; forward_passes: number; stderr: null }[] };
  assert.equal(body.method, 'ar');
  assert.deepEqual(body.items.map((item) => [item.tokens, item.forward_passes, item.stderr]), [[3, 1, null], [2, 1, null]]);
  assert.deepEqual(await errorOf(await postJson(`${ar.url}/v1/score`, { items: [{ text: words(4) }], method: 'elbo' })), { status: 400, code: 'unsupported_method', param: 'method' });
  assert.deepEqual(await errorOf(await postJson(`${sedd.url}/v1/score`, { items: [{ text: words(4) }], method: 'ar' })), { status: 400, code: 'unsupported_method', param: 'method' });
});

test('/v1/generate with the AR baseline: the diffusion-only fields are refused by name', async () => {
  const ok = await postJson(`${ar.url}/v1/generate`, { prompt: words(4), length: 6, seed: 1, temperature: 0.8, top_p: 0.9 });
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { samples: { token_ids: number[]; forward_passes: number }[]; stats: { steps: number } };
  assert.deepEqual([body.samples[0]?.token_ids.length, body.samples[0]?.forward_passes, body.stats.steps], [6, 4, 4]);
  for (const [field, value] of [['steps', 10], ['sampler', 'ddpm_cache'], ['suffix', words(3)], ['eta', 0.01], ['semi_ar', { stride_length: 2, num_strides: 1 }]] as const) {
    assert.deepEqual(await errorOf(await postJson(`${ar.url}/v1/generate`, { prompt: words(4), [field]: value })), { status: 400, code: 'invalid_argument', param: field });
  }
  assert.deepEqual(await errorOf(await postJson(`${sedd.url}/v1/generate`, { sampler: 'remdm-cap' })), { status: 400, code: 'invalid_argument', param: 'sampler' });
});

test('/v1/completions with the AR baseline: echoed prompt logprobs in one pass, streamed text equal to the whole, past the window refused', async () => {
  const request = { model: 'ar', prompt: words(4, 5), max_tokens: 5, seed: 9, logprobs: 2, echo: true };
  const whole = (await (await postJson(`${ar.url}/v1/completions`, request)).json()) as { choices: { text: string; logprobs: { token_logprobs: (number | null)[] } }[] };
  const choice = whole.choices[0];
  assert.ok(choice !== undefined);
  assert.equal(choice.logprobs.token_logprobs.length, 2 + 5);
  assert.ok(choice.logprobs.token_logprobs.every((value) => value !== null && value <= 0), 'BOS frames the prompt, so every token has a conditional');
  const streamed = await completionChunks(await postJson(`${ar.url}/v1/completions`, { ...request, echo: false, logprobs: null, stream: true }));
  const text = streamed.map((chunk) => chunk.choices[0]?.text ?? '').join('');
  assert.ok(choice.text.endsWith(text) && text.length > 0, `${JSON.stringify(text)} is the generated part of ${JSON.stringify(choice.text)}`);
  assert.deepEqual(await errorOf(await postJson(`${ar.url}/v1/completions`, { model: 'ar', prompt: words(4), max_tokens: 40 })), { status: 400, code: 'invalid_argument', param: 'max_tokens' });
});
