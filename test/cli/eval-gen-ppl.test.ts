import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportModel, synthesizeGpt2Checkpoint } from '../../src/families/index.js';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { runCli } from '../helpers/cli.js';
import { exportHead, runLogits, synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';

const GPT2_TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'gpt2');
const EOS = 50256;
const CONTEXT = 16;

const work = tempDir();
const checkpoint = join(work, 'gpt2');
await synthesizeGpt2Checkpoint({ outDir: checkpoint, shape: { vocab_size: 50257, n_positions: CONTEXT, n_embd: 16, n_layer: 1, n_head: 2 }, seed: 5 });
const positionsDir = join(work, 'positions');
await exportModel({ checkpointDir: checkpoint, outDir: positionsDir, head: 'positions', tokenizerDir: GPT2_TOKENIZER });
const logitsDir = join(work, 'logits');
await exportModel({ checkpointDir: checkpoint, outDir: logitsDir, head: 'logits', tokenizerDir: GPT2_TOKENIZER });
const tokenizer = await MdlmTokenizer.fromFiles(GPT2_TOKENIZER);

/**
 * The seed's procedure written out plainly: pad to the longest row with EOS, split into
 * CONTEXT-sized chunks, score tokens[1:] under logits[:-1], count a target unless it is EOS
 * and not its chunk's first (cumsum(tokens == EOS) == 1).
 */
async function seedGenPpl(rows: number[][]): Promise<{ ppl: number; counted: number }> {
  const longest = Math.max(...rows.map((row) => row.length));
  const padded = rows.map((row) => [...row, ...new Array<number>(longest - row.length).fill(EOS)]);
  let nll = 0;
  let counted = 0;
  for (let begin = 0; begin < longest; begin += CONTEXT) {
    const chunks = padded.map((row) => row.slice(begin, begin + CONTEXT));
    const width = (chunks[0] as number[]).length;
    const logits = await runLogits(logitsDir, chunks);
    const vocab = logits.length / (chunks.length * width);
    chunks.forEach((chunk, r) => {
      let eosSoFar = 0;
      chunk.forEach((token, p) => {
        if (token === EOS) eosSoFar += 1;
        if (p === 0 || (token === EOS && eosSoFar !== 1)) return;
        const row = Array.from(logits.subarray((r * width + p - 1) * vocab, (r * width + p) * vocab), Number);
        const peak = Math.max(...row);
        nll -= (row[token] as number) - peak - Math.log(row.reduce((sum, z) => sum + Math.exp(z - peak), 0));
        counted += 1;
      });
    });
  }
  return { ppl: Math.exp(nll / counted), counted };
}

test('eval gen-ppl --json on mdlm generate output equals the seed procedure run on the logits head', async () => {
  const texts = [
    '<|endoftext|>Hello , world . It is a test of the counting rule across chunks of sixteen tokens<|endoftext|>',
    'A short one',
    'No end-of-text token here , but long enough to be truncated at the maximum length of thirty tokens for sure , with some more words after that',
  ];
  // What the seed's decode would have given: transformers' clean-up of spaces before punctuation.
  const cleaned = [
    '<|endoftext|>Hello, world. It is a test of the counting rule across chunks of sixteen tokens<|endoftext|>',
    'A short one',
    'No end-of-text token here, but long enough to be truncated at the maximum length of thirty tokens for sure, with some more words after that',
  ];
  const samplesPath = join(tempDir(), 'samples.json');
  const samples = texts.map((text, index) => ({ index, text, token_ids: new Array(30).fill(1), forward_passes: 1 }));
  writeFileSync(samplesPath, JSON.stringify({ id: 'gen-x', model: 'm', seed: 1, samples, stats: {} }));
  const result = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', samplesPath, '--batch-size', '2', '--device', 'cpu', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  const rows = cleaned.map((text) => tokenizer.encode(text).slice(0, 30));
  assert.ok((rows[2] as number[]).length === 30 && (rows[0] as number[]).length > CONTEXT, 'the cases truncate and span chunks');
  const expected = await seedGenPpl(rows);
  assert.equal(report.max_length, 30, 'the MDLM length comes from token_ids');
  assert.equal(report.context, CONTEXT);
  assert.equal(report.tokens_counted, expected.counted);
  assert.ok(Math.abs(report.gen_ppl / expected.ppl - 1) < 1e-5, `gen PPL ${report.gen_ppl} vs ${expected.ppl}`);
  assert.deepEqual(report.samples.map((sample: { tokens: number }) => sample.tokens), rows.map((row) => row.length));
  assert.equal(report.mean_unigram_entropy, 0, 'entropy of the token_ids (all ones)');

  const raw = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', samplesPath, '--no-clean-up-spaces', '--device', 'cpu', '--json']);
  assert.notEqual(JSON.parse(raw.stdout).gen_ppl, report.gen_ppl, '--no-clean-up-spaces retokenizes the raw text');

  // The same batches as the JSON run: padding to another batch's length may change the float rounding.
  const text = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', samplesPath, '--batch-size', '2', '--device', 'cpu']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^gen PPL ${report.gen_ppl.toFixed(3).replace('.', '\\.')} under .*\\(3 samples, ${expected.counted} tokens counted, max length 30, context 16, cpu\\)\nunigram entropy: mean 0\\.000 nats\n`));
  assert.match(text.stdout, /\| sample \| tokens \| counted \| nll \/ token \| unigram entropy \|/);
});

test('eval gen-ppl usage and input errors', async () => {
  const help = await runCli(['eval', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /gen-ppl/);
  const subHelp = await runCli(['eval', 'gen-ppl', '--help']);
  for (const flag of ['--eval-model', '--samples', '--batch-size', '--max-length', '--no-clean-up-spaces', '--device', '--json']) assert.ok(subHelp.stdout.includes(flag), flag);
  assert.match(subHelp.stdout, /openai-community\/gpt2-large/);

  assert.equal((await runCli(['eval', 'gen-ppl'])).code, 2, 'missing --samples');
  const dir = tempDir();
  const textOnly = join(dir, 'text.jsonl');
  writeFileSync(textOnly, '{"text": "hello there"}\n{"text": "a whole world"}\n');
  const noLength = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', textOnly, '--device', 'cpu']);
  assert.equal(noLength.code, 2);
  assert.match(noLength.stderr, /--max-length is needed: the samples carry no token_ids/);
  const withLength = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', textOnly, '--max-length', '8', '--device', 'cpu', '--json']);
  assert.equal(withLength.code, 0, withLength.stderr);
  assert.equal(JSON.parse(withLength.stdout).num_samples, 2);

  const single = join(dir, 'single.jsonl');
  writeFileSync(single, '{"text": "hello"}\n{"text": "world"}\n');
  const nothing = await runCli(['eval', 'gen-ppl', '--eval-model', positionsDir, '--samples', single, '--max-length', '8', '--device', 'cpu']);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /error \[invalid_samples\]: no token of the samples counts toward the perplexity/, 'one-token rows of equal length have no target');

  const broken = join(dir, 'broken.jsonl');
  writeFileSync(broken, '{"text": "fine"}\n{"txt": "typo"}\n');
  const bad = await runCli(['eval', 'gen-ppl', '--eval-model', join(dir, 'never-read'), '--samples', broken]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error \[invalid_samples\]: .*broken\.jsonl:2: \(root\): a sample needs text or token_ids/);

  const mdlm = await exportHead(await synthCheckpoint(), 'positions');
  const notCausal = await runCli(['eval', 'gen-ppl', '--eval-model', mdlm, '--samples', textOnly, '--max-length', '8', '--device', 'cpu']);
  assert.equal(notCausal.code, 2);
  assert.match(notCausal.stderr, /is an mdlm export; generative perplexity needs a causal LM such as GPT-2/);
});
