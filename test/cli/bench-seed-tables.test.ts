import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportCkpt, wordTokenizerDir } from '../helpers/baselines.js';
import { runCli } from '../helpers/cli.js';

/** Both tables end to end at a tiny scale, with the synthetic models the small scale builds. */
const TINY = ['--scale', 'small', '--samples', '2', '--steps', '4,8', '--length', '16', '--sequences', '2', '--semi-ar-steps', '4', '--stride-length', '8', '--num-strides', '2', '--device', 'cpu'];

interface WallClockRow {
  sampler: string;
  steps: number;
  samples: number;
  meanForwardPasses: number;
  secondsPerSample: number;
  totalSeconds: number;
  seed?: { steps: number; secondsPerSample: number };
}

test('bench seed-tables at a tiny scale: both tables, beside the published figures, as JSON', async () => {
  const result = await runCli(['bench', 'seed-tables', ...TINY, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.scale, 'small');
  assert.equal(report.synthetic, true);
  assert.deepEqual(report.parameters.semiAr, { sequences: 2, length: 16, strideLength: 8, numStrides: 2, steps: 4 });
  assert.deepEqual(report.wallClock.map((row: WallClockRow) => `${row.sampler} ${row.steps} ${row.samples}`), ['analytic 4 2', 'analytic 8 2', 'ddpm 4 2', 'ddpm 8 2', 'ddpm_cache 4 2', 'ddpm_cache 8 2']);
  for (const row of report.wallClock as WallClockRow[]) {
    if (row.sampler !== 'ddpm_cache') assert.equal(row.meanForwardPasses, row.steps + 1, `${row.sampler}: a pass at every step and the final one`);
    else assert.ok(row.meanForwardPasses >= 1 && row.meanForwardPasses <= row.steps + 1);
    assert.ok(row.secondsPerSample > 0 && Math.abs(row.totalSeconds - 2 * row.secondsPerSample) < 1e-9);
  }
  assert.deepEqual(report.wallClock.map((row: WallClockRow) => row.seed), [
    { label: 'MDLM + analytic (seed: SEDD + analytic)', steps: 5000, secondsPerSample: 127.1 },
    { label: 'MDLM + analytic (seed: SEDD + analytic)', steps: 10000, secondsPerSample: 229.3 },
    { label: 'MDLM + ddpm', steps: 5000, secondsPerSample: 113.8 },
    { label: 'MDLM + ddpm', steps: 10000, secondsPerSample: 206.6 },
    { label: 'MDLM + ddpm_cache', steps: 5000, secondsPerSample: 40.1 },
    { label: 'MDLM + ddpm_cache', steps: 10000, secondsPerSample: 60.4 },
  ]);
  assert.deepEqual(report.ratios.map((ratio: { steps: number; seed: number }) => [ratio.steps, ratio.seed.toFixed(2)]), [[4, '2.84'], [8, '3.42']]);
  const semiAr = report.semiAr;
  assert.equal(semiAr.sequences, 2);
  assert.equal(semiAr.tokensPerSequence, 16 + 2 * 8);
  // Two chunks of GPT-2's context (16) per sequence, each scoring all but its first token; no EOS in the word-level text.
  assert.equal(semiAr.tokensCounted, 2 * 2 * 15);
  assert.ok(Number.isFinite(semiAr.genPpl) && semiAr.genPpl > 1);
  assert.ok(semiAr.meanForwardPasses >= 3 && semiAr.meanForwardPasses <= 3 * 5, 'three rounds of at most T + 1 passes');
  assert.deepEqual(semiAr.seed, { sequences: 200, tokens: 2048, secondsPerSequence: 89.3, genPpl: 27.18 });
});

test('bench seed-tables prints markdown tables that say the scale is reduced and the models synthetic', async () => {
  const result = await runCli(['bench', 'seed-tables', ...TINY]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Reduced scale \(small\).*The models are synthetic/);
  assert.match(result.stdout, /\| ddpm ÷ ddpm_cache \| 4 \| \| [\d.]+× \| \| 2\.84× \|/);
  assert.match(result.stdout, /\| here \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 60 \| [\d.]+ \|\n\| seed \(200 × 2048 tokens, one RTX 3090\) \| 89\.3 \| \| 27\.18 \| \| \|/);
  const bad = await runCli(['bench', 'seed-tables', '--scale', 'small', '--steps', '0,5']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--steps/);
});

test("bench seed-tables --sedd-model: the analytic row runs SEDD's network and sampler, as the seed's table did", async () => {
  const sedd = await exportCkpt('sedd', 'positions', { tokenizerDir: wordTokenizerDir() });
  const result = await runCli(['bench', 'seed-tables', ...TINY, '--sedd-model', sedd, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.seddModel, sedd);
  const rows = report.wallClock as (WallClockRow & { model: string; seed: { label: string } })[];
  assert.deepEqual(rows.map((row) => `${row.model} ${row.sampler} ${row.steps}`), ['SEDD analytic 4', 'SEDD analytic 8', 'MDLM ddpm 4', 'MDLM ddpm 8', 'MDLM ddpm_cache 4', 'MDLM ddpm_cache 8']);
  for (const row of rows.slice(0, 2)) {
    assert.equal(row.seed.label, 'SEDD + analytic');
    assert.ok(row.meanForwardPasses >= 1 && row.meanForwardPasses <= row.steps + 1, 'a pass at every step while anything is masked');
  }
});
