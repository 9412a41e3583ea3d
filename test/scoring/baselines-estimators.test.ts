/**
 * The baselines' likelihoods through the real service on the .ckpt fixtures:
 *  - SEDD's NELBO (score entropy): the Monte Carlo estimate against the exact value, every mask
 *    pattern enumerated and the t-integral done by quadrature (test/helpers/exact-baselines.ts);
 *  - the AR baseline's exact log-likelihood, one pass per item, against the torch-loaded
 *    reference's (test/fixtures/baselines/golden.json), as the seed's AR _loss scores a row;
 *  - what each refuses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ckptService, exportCkpt } from '../helpers/baselines.js';
import { exactSeddNelbo } from '../helpers/exact-baselines.js';

const MASK = 19;
const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'baselines', 'golden.json'), 'utf8')) as { ar: { input_ids: number[][]; token_nll: number[][] }[] };

const sedd = await ckptService('sedd', 64);
const ar = await ckptService('ar', 64);
after(() => Promise.all([sedd.close(), ar.close()]));

const CASES = [
  { name: 'unconditional', tokens: [3, 11, 0, 7], context: 0 },
  { name: 'conditional on a context', tokens: [5, 2, 16, 9], context: 2 },
];

for (const testCase of CASES) {
  test(`SEDD elbo, ${testCase.name}: the Monte Carlo estimate of the score-entropy NELBO is within 4 standard errors of the exact value`, async (t) => {
    const session = await ort.InferenceSession.create(join(await exportCkpt('sedd', 'logits'), 'model.onnx'));
    const exact = await exactSeddNelbo(session, testCase.tokens, testCase.context, MASK);
    await session.release();
    const draws = 6000;
    const prepared = sedd.prepareScore({
      items: [{ input: testCase.tokens.slice(testCase.context), context: testCase.tokens.slice(0, testCase.context) }],
      mcSamples: draws,
      seed: 23,
      addSpecialTokens: false,
    });
    assert.equal(prepared.method, 'elbo', "SEDD's default method is its NELBO");
    const [item] = (await sedd.score(prepared)).items;
    const estimate = item as NonNullable<typeof item>;
    const z = (estimate.nll - exact) / (estimate.stderr as number);
    t.diagnostic(`exact NELBO ${exact.toFixed(5)} nats, estimate ${estimate.nll.toFixed(5)} ± ${(estimate.stderr as number).toFixed(5)} (n ${draws}, z ${z.toFixed(2)})`);
    assert.ok(Math.abs(z) < 4, `z = ${z}`);
    assert.ok(Math.abs(Array.from(estimate.tokenNll).reduce((sum, share) => sum + share, 0) - estimate.nll) < 1e-9 * Math.max(1, estimate.nll));
  });
}

test('SEDD refuses the left-to-right method: it is time-conditioned', () => {
  assert.throws(() => sedd.prepareScore({ items: [{ input: [1, 2] }], method: 'ar' }), { code: 'unsupported_method' });
});

test('AR baseline: the exact log-likelihood of each row in one pass, every token after the first, equal to the reference', async (t) => {
  const { input_ids: rows, token_nll: reference } = golden.ar[0] as { input_ids: number[][]; token_nll: number[][] };
  // As mdlm eval ppl scores a wrapped row: its first token is the context.
  const prepared = ar.prepareScore({ items: rows.map((row) => ({ input: row.slice(1), context: row.slice(0, 1) })), addSpecialTokens: false });
  assert.equal(prepared.method, 'ar', "the AR baseline's default method is its own likelihood");
  const result = await ar.score(prepared);
  let worst = 0;
  result.items.forEach((item, r) => {
    assert.equal(item.forwardPasses, 1, 'one pass per item');
    assert.equal(item.stderr, undefined, 'exact, no standard error');
    const expected = reference[r] as number[];
    item.tokenNll.forEach((nll, k) => {
      worst = Math.max(worst, Math.abs(nll - (expected[k] as number)));
    });
    const total = expected.reduce((sum, value) => sum + value, 0);
    assert.ok(Math.abs(item.nll - total) < 1e-4 * rows[0]!.length, `row ${r}: ${item.nll} vs ${total}`);
    const top = item.alternatives;
    assert.ok(top !== undefined && top.width === 5);
    item.tokenNll.forEach((nll, k) => assert.ok(-nll <= (top.logprobs[k * top.width] as number) + 1e-6, 'no token beats the top alternative'));
  });
  t.diagnostic(`${rows.length} rows of ${rows[0]?.length} tokens, ${rows[0]!.length - 1} scored each; max |token nll − reference| ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-4);
  assert.equal(result.stats.forwardPasses, rows.length);
});

test('AR baseline refuses elbo, and a first token with nothing before it', () => {
  assert.throws(() => ar.prepareScore({ items: [{ input: [1, 2] }], method: 'elbo' }), { code: 'unsupported_method', details: { param: 'method' } });
  assert.throws(() => ar.prepareScore({ items: [{ input: [1, 2] }], addSpecialTokens: false }), { code: 'invalid_argument', details: { param: 'items.0' } });
});
