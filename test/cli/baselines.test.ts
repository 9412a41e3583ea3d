/** The seed's .ckpt files and baselines through the CLI, as a user runs them. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { wrapDocuments } from '../../src/scoring/index.js';
import { MdlmTokenizer, pseudoWord } from '../../src/tokenizer/index.js';
import { ckptPath, exportCkpt, wordTokenizerDir } from '../helpers/baselines.js';
import { runCli } from '../helpers/cli.js';
import { runLogits } from '../helpers/models.js';
import { softmax } from '../helpers/stats.js';
import { tempDir } from '../helpers/tmp.js';

const LENGTH = 16;
const MASK = 19;
const tokenizer = wordTokenizerDir(20, true);
const words = (...ids: number[]) => ids.map((id) => pseudoWord(id - 1)).join(' ');
/** --model FILE with a fresh conversion cache and the framing tokenizer. */
const model = (name: string) => ['--model', ckptPath(name), '--tokenizer', tokenizer, '--models-dir', join(tempDir(), 'models'), '--device', 'cpu'];

interface Generated {
  samples: { token_ids: number[]; forward_passes: number }[];
  stats: { steps: number; forward_passes: number };
}

test('mdlm generate with the AR baseline: left to right after BOS, one pass per token; the diffusion-only flags are refused by name', async () => {
  const run = await runCli(['generate', ...model('ar'), '--prompt', words(4, 5), '--num-samples', '2', '--seed', '3', '--top-k', '5', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as Generated;
  for (const sample of result.samples) {
    assert.deepEqual(sample.token_ids.slice(0, 3), [0, 4, 5], 'BOS, then the prompt');
    assert.equal(sample.token_ids.length, LENGTH);
    assert.ok(!sample.token_ids.includes(MASK), 'the mask is never generated');
    assert.equal(sample.forward_passes, LENGTH - 3);
  }
  assert.equal(result.stats.steps, LENGTH - 3, 'a step per generated token');
  for (const [flag, value] of [['--steps', '10'], ['--sampler', 'ddpm'], ['--suffix', words(2)], ['--eta', '0.01']] as const) {
    const refused = await runCli(['generate', ...model('ar'), '--prompt', words(4), flag, value]);
    assert.equal(refused.code, 2, `${flag}: ${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`error \\[invalid_argument\\]: ${flag.slice(2).replace('-', '_')}: `));
  }
  const strides = await runCli(['generate', ...model('ar'), '--stride-length', '4', '--num-strides', '1']);
  assert.match(strides.stderr, /error \[invalid_argument\]: semi_ar: /);
});

test('mdlm generate with SEDD: its analytic sampler by default, a pass per step while anything is masked; other samplers refused', async () => {
  const run = await runCli(['generate', ...model('sedd'), '--steps', '8', '--length', '6', '--seed', '1', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as Generated;
  const [sample] = result.samples;
  assert.ok(sample !== undefined && sample.token_ids.length === 6 && !sample.token_ids.includes(MASK));
  assert.ok(sample.forward_passes >= 1 && sample.forward_passes <= 9);
  const refused = await runCli(['generate', ...model('sedd'), '--sampler', 'ddpm_cache']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /error \[invalid_argument\]: sampler: a SEDD model samples with analytic/);
});

test('mdlm score with the AR baseline: exact, one pass; elbo refused with unsupported_method', async () => {
  const run = await runCli(['score', ...model('ar'), '--token-ids', '4,5,6,7', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const scored = JSON.parse(run.stdout) as { method: string; tokens: number; forward_passes: number; stderr: null };
  assert.deepEqual([scored.method, scored.tokens, scored.forward_passes, scored.stderr], ['ar', 4, 1, null]);
  const elbo = await runCli(['score', ...model('ar'), '--token-ids', '4,5', '--method', 'elbo']);
  assert.equal(elbo.code, 1);
  assert.match(elbo.stderr, /error \[unsupported_method\]: method elbo/);
});

test("mdlm eval ppl: the AR baseline scores every token of each wrapped row but its first, as the seed's AR loss; SEDD its NELBO", async () => {
  const documents = Array.from({ length: 6 }, (_, d) => words(...Array.from({ length: 9 }, (__, k) => 1 + ((d * 7 + k * 3) % 18))));
  const data = join(tempDir(), 'corpus.txt');
  await writeFile(data, `${documents.join('\n')}\n`);
  const run = await runCli(['eval', 'ppl', ...model('ar'), '--data', data, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { method: string; rows: number; tokens: number; nll: number };
  const wordLevel = await MdlmTokenizer.fromFiles(tokenizer);
  const { rows } = wrapDocuments(documents.map((text) => wordLevel.encode(text)), LENGTH, 0, 0);
  assert.deepEqual([report.method, report.rows, report.tokens], ['ar', rows.length, rows.length * (LENGTH - 1)]);
  // The reference: each target's log-probability read from the logits head at the position before it.
  const logits = await runLogits(await exportCkpt('ar', 'logits'), rows.map((row) => Array.from(row)));
  let nll = 0;
  rows.forEach((row, r) => {
    for (let p = 0; p + 1 < LENGTH; p++) nll -= Math.log(softmax(logits.subarray((r * LENGTH + p) * 20, (r * LENGTH + p + 1) * 20), 1, MASK)[row[p + 1] as number] as number);
  });
  assert.ok(Math.abs(report.nll - nll) < 1e-4 * rows.length * LENGTH, `${report.nll} vs ${nll}`);
  const sedd = await runCli(['eval', 'ppl', ...model('sedd'), '--data', data, '--mc-samples', '2', '--json']);
  assert.equal(sedd.code, 0, sedd.stderr);
  const seddReport = JSON.parse(sedd.stdout) as { method: string; tokens: number; nll: number };
  assert.deepEqual([seddReport.method, seddReport.tokens], ['elbo', rows.length * LENGTH]);
  assert.ok(Number.isFinite(seddReport.nll) && seddReport.nll > 0);
});

test('mdlm export --checkpoint FILE.ckpt --weights raw; a broken .ckpt fails with its code and leaves no output', async () => {
  const out = join(tempDir(), 'ar-raw');
  const run = await runCli(['export', '--checkpoint', ckptPath('ar'), '--out', out, '--weights', 'raw', '--tokenizer', tokenizer]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /exported .* \(ar, positions head, fp32/);
  const broken = join(tempDir(), 'truncated');
  const refused = await runCli(['export', '--checkpoint', ckptPath('truncated'), '--out', broken]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /error \[corrupt_file\]: .*truncated\.ckpt/);
  assert.ok(!existsSync(broken));
  const badWeights = await runCli(['export', '--checkpoint', ckptPath('ar'), '--out', out, '--weights', 'best']);
  assert.equal(badWeights.code, 2);
  assert.match(badWeights.stderr, /--weights/);
});
