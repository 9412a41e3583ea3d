/** mdlm score and mdlm eval ppl as a user runs them. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { GPT2_TOKENIZER_DIR, gpt2VocabExport, tinyExport } from '../server/helpers.js';

test('mdlm score --json: nll, tokens, token_nll and stderr; ar through --context-tokens; --mc-samples up to 100 000', async () => {
  const model = await tinyExport();
  const elbo = await runCli(['score', '--model', model, '--text', 'ba ko go', '--mc-samples', '64', '--seed', '2', '--json']);
  assert.equal(elbo.code, 0, elbo.stderr);
  const result = JSON.parse(elbo.stdout) as { nll: number; tokens: number; token_nll: number[]; stderr: number; method: string; seed: number };
  assert.equal(result.method, 'elbo');
  assert.equal(result.seed, 2);
  assert.equal(result.tokens, 3);
  assert.ok(Math.abs(result.token_nll.reduce((sum, share) => sum + share, 0) - result.nll) < 1e-9 * result.nll);
  assert.ok(result.stderr > 0);
  const ar = await runCli(['score', '--model', model, '--token-ids', '3,4,5,6', '--context-tokens', '2', '--method', 'ar', '--json']);
  assert.equal(ar.code, 0, ar.stderr);
  const exact = JSON.parse(ar.stdout) as { token_ids: number[]; stderr: null; forward_passes: number };
  assert.deepEqual([exact.token_ids, exact.stderr, exact.forward_passes], [[5, 6], null, 2]);
  const many = await runCli(['score', '--model', model, '--text', 'ba', '--mc-samples', '100000', '--json']);
  assert.equal(many.code, 0, many.stderr);
  assert.ok((JSON.parse(many.stdout) as { stderr: number }).stderr < 0.2);
  const text = await runCli(['score', '--model', model, '--text', 'ba ko']);
  assert.match(text.stdout, /^nll \d+\.\d+ nats ± \d+\.\d+ \(an upper bound on −log p\) over 2 tokens: .* nats\/token, perplexity .*, .* bits\/token\n$/);
});

test('mdlm score refuses a bad invocation naming the flag, and ar on nothing', async () => {
  const model = await tinyExport();
  const both = await runCli(['score', '--model', model, '--text', 'ba', '--token-ids', '1']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--text: give exactly one of --text and --token-ids/);
  const badList = await runCli(['score', '--model', model, '--token-ids', '1,x']);
  assert.equal(badList.code, 2);
  assert.match(badList.stderr, /--token-ids: a comma-separated list of token ids/);
  const tooFew = await runCli(['score', '--model', model, '--token-ids', '1,2', '--context-tokens', '2']);
  assert.equal(tooFew.code, 2);
  assert.match(tooFew.stderr, /--context-tokens/);
});

test('mdlm eval ppl: documents wrapped as the seed wraps them, from JSONL or plain text; the report and its JSON', async () => {
  const model = await gpt2VocabExport();
  const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER_DIR);
  const documents = ['The quick brown fox jumps over the lazy dog. '.repeat(6), 'A second document, a little longer than the first one was. '.repeat(3), 'Third.'];
  const dir = tempDir();
  const jsonl = join(dir, 'corpus.jsonl');
  const plain = join(dir, 'corpus.txt');
  await writeFile(jsonl, documents.map((text) => JSON.stringify({ text, source: 'test' })).join('\n'));
  await writeFile(plain, `${documents.join('\n')}\n`);
  const total = documents.reduce((sum, text) => sum + tokenizer.encode(text).length + 1, 0);
  const rows = Math.floor(total / (48 - 2));
  const fromJsonl = await runCli(['eval', 'ppl', '--model', model, '--data', jsonl, '--batch-size', '2', '--json']);
  assert.equal(fromJsonl.code, 0, fromJsonl.stderr);
  const report = JSON.parse(fromJsonl.stdout) as { rows: number; tokens: number; dropped_tokens: number; nll_per_token: number; perplexity: number; documents: number };
  assert.deepEqual([report.documents, report.rows, report.tokens, report.dropped_tokens], [3, rows, rows * 48, total - rows * 46]);
  assert.ok(Math.abs(report.perplexity - Math.exp(report.nll_per_token)) < 1e-9 * report.perplexity);
  const fromPlain = await runCli(['eval', 'ppl', '--model', model, '--data', plain, '--batch-size', '2', '--json']);
  assert.equal(JSON.parse(fromPlain.stdout).nll_per_token, report.nll_per_token, 'the same corpus either way');
  const text = await runCli(['eval', 'ppl', '--model', model, '--data', plain]);
  assert.match(text.stdout, /3 documents → \d+ rows of 48 tokens \(\d+ tokens left over after the last full row, dropped as the seed does\)\nnll .* nats\/token .* perplexity .* bits\/token\n\d+ tokens in .* s: \d+ tokens\/s\n/);
});
