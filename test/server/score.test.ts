/** POST /v1/score over real HTTP: shapes, framing, consistency of the two methods' bookkeeping, and every refusal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pseudoWord } from '../../src/tokenizer/index.js';
import { MODEL_ID, gpt2VocabExport, postJson, startServer, tinyExport } from './helpers.js';

const server = await startServer({ config: { limits: { maxScoreItems: 4, maxMcSamples: 500 } } });
const score = (body: unknown, url = server.url) => postJson(`${url}/v1/score`, body);
const words = (count: number, from = 0) => Array.from({ length: count }, (_, i) => pseudoWord(from + i)).join(' ');

interface ItemScore {
  index: number;
  nll: number;
  tokens: number;
  nll_per_token: number;
  perplexity: number;
  bits_per_token: number;
  stderr: number | null;
  token_nll: number[];
  token_ids: number[];
  forward_passes: number;
}

async function scored(body: unknown, url?: string): Promise<{ method: string; seed: number; items: ItemScore[] }> {
  const response = await score(body, url);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text);
}

test('elbo: one estimate per item with its standard error, shares that sum to it, and the derived figures', async () => {
  const result = await scored({ model: MODEL_ID, items: [{ text: words(6) }, { token_ids: [5, 6, 7], context: words(2) }], mc_samples: 64, seed: 3 });
  assert.equal(result.method, 'elbo');
  assert.equal(result.seed, 3);
  const [plain, conditional] = result.items as [ItemScore, ItemScore];
  assert.equal(plain.tokens, 6);
  assert.equal(conditional.tokens, 3);
  assert.deepEqual(conditional.token_ids, [5, 6, 7], 'the context is not scored');
  for (const item of result.items) {
    assert.ok(item.nll > 0 && item.stderr !== null && item.stderr > 0);
    assert.ok(Math.abs(item.token_nll.reduce((sum, share) => sum + share, 0) - item.nll) < 1e-9 * item.nll);
    assert.ok(Math.abs(item.nll_per_token - item.nll / item.tokens) < 1e-12);
    assert.ok(Math.abs(item.perplexity - Math.exp(item.nll_per_token)) < 1e-9 * item.perplexity);
    assert.ok(Math.abs(item.bits_per_token - item.nll_per_token / Math.LN2) < 1e-12);
    assert.ok(item.forward_passes >= 1 && item.forward_passes <= 64);
  }
  const again = await scored({ items: [{ text: words(6) }], mc_samples: 64, seed: 3 });
  assert.equal(again.items[0]?.nll, plain.nll, 'the same seed gives the same estimate');
});

test('ar: exact and deterministic, one pass per scored token, no standard error', async () => {
  const body = { items: [{ token_ids: [3, 4, 5, 6], context: [7, 8] }], method: 'ar' };
  const [first, second] = [await scored(body), await scored(body)];
  const item = first.items[0] as ItemScore;
  assert.equal(item.stderr, null);
  assert.equal(item.forward_passes, 4);
  assert.deepEqual(second.items[0]?.token_nll, item.token_nll);
});

test('framing: with GPT-2’s tokenizer what is scored follows <|endoftext|>, for text and token ids; add_special_tokens: false turns it off', async () => {
  const gpt2 = await startServer({ exportDir: await gpt2VocabExport() });
  const text = 'Hello world';
  const ids = [15496, 995];
  const [fromText, fromIds, unframed] = [
    await scored({ items: [{ text }], method: 'ar' }, gpt2.url),
    await scored({ items: [{ token_ids: ids }], method: 'ar' }, gpt2.url),
    await scored({ items: [{ token_ids: ids }], method: 'ar', add_special_tokens: false }, gpt2.url),
  ];
  assert.deepEqual(fromText.items[0]?.token_ids, ids, 'BOS is context, never scored');
  assert.deepEqual(fromIds.items[0]?.token_nll, fromText.items[0]?.token_nll, 'token ids frame exactly as text does');
  assert.notDeepEqual(unframed.items[0]?.token_nll, fromIds.items[0]?.token_nll, 'without BOS the first conditional changes');
  const tokenized = (await (await postJson(`${gpt2.url}/tokenize`, { prompt: text })).json()) as { tokens: number[] };
  assert.deepEqual(tokenized.tokens, [50256, ...ids], '/tokenize shows the framing the server applies');
});

test('every bad input is refused with the field named', async () => {
  const refused = async (body: unknown, status: number, code: string, param: string) => {
    const response = await score(body);
    const envelope = (await response.json()) as { error: { code: string; param: string | null } };
    assert.equal(response.status, status, JSON.stringify(envelope));
    assert.deepEqual([envelope.error.code, envelope.error.param], [code, param]);
  };
  await refused({ items: [{ text: '' }] }, 400, 'validation_error', 'items.0.text');
  await refused({ items: [] }, 400, 'validation_error', 'items');
  await refused({ items: [{ text: 'ba' }, { text: 'be' }, { text: 'bi' }, { text: 'bo' }, { text: 'bu' }] }, 400, 'validation_error', 'items');
  await refused({ items: [{ text: 'ba', token_ids: [1] }] }, 400, 'validation_error', 'items.0');
  await refused({ items: [{ token_ids: [1, 'two'] }] }, 400, 'validation_error', 'items.0.token_ids.1');
  await refused({ items: [{ token_ids: [] }] }, 400, 'validation_error', 'items.0.token_ids');
  await refused({ items: [{ token_ids: [1, 64] }] }, 400, 'invalid_argument', 'items.0');
  await refused({ items: [{ text: 'ba', context: [63] }] }, 400, 'invalid_argument', 'items.0.context');
  await refused({ items: [{ text: words(33) }] }, 400, 'sequence_too_long', 'items.0');
  await refused({ items: [{ text: words(20), context: words(13, 30) }] }, 400, 'sequence_too_long', 'items.0');
  await refused({ items: [{ text: 'ba' }], mc_samples: 0 }, 400, 'validation_error', 'mc_samples');
  await refused({ items: [{ text: 'ba' }], mc_samples: 501 }, 400, 'validation_error', 'mc_samples');
  await refused({ items: [{ text: 'ba' }], method: 'exact' }, 400, 'validation_error', 'method');
  await refused({ model: 'gpt-4', items: [{ text: 'ba' }] }, 404, 'model_not_found', 'model');
});

test('ar on a time-conditioned checkpoint is refused: unsupported_method', async () => {
  const timed = await startServer({ exportDir: await tinyExport({ time_conditioning: true }) });
  const response = await score({ items: [{ text: 'ba be' }], method: 'ar' }, timed.url);
  const envelope = (await response.json()) as { error: { code: string; param: string; message: string } };
  assert.equal(response.status, 400);
  assert.deepEqual([envelope.error.code, envelope.error.param], ['unsupported_method', 'method']);
  assert.match(envelope.error.message, /time-conditioned/);
  assert.equal((await score({ items: [{ text: 'ba be' }], mc_samples: 8 }, timed.url)).status, 200, 'elbo works on it');
});

test('the OpenAPI document describes /v1/score and the tokenizer routes', async () => {
  const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  for (const path of ['/v1/score', '/tokenizer_info', '/tokenize', '/detokenize']) assert.ok(path in document.paths, path);
});
