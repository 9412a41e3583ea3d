import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readManifest } from '../../src/model/manifest.js';
import { exportModel } from '../../src/model/export.js';
import type { ExportHead, WeightDtype } from '../../src/model/index.js';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { assertDrawsFollowSoftmax, drawFromHead } from '../helpers/positions-head.js';
import { softmax } from '../helpers/stats.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * float16's unit roundoff: rounding to float16 moves a value by at most this fraction of it.
 *
 * The tolerances for fp16 logits follow from it. Along the path to a logit, S = 4·blocks + 1
 * matrix products (qkv, attn_out, mlp.0, mlp.2 per block, then the output layer) each see their
 * input and their weights rounded to float16: 2S roundings, each a relative error spread over
 * [−U, U] (standard deviation U/√3). The residual stream, the norms and softmax stay float32 and
 * add nothing comparable. Independent errors add in quadrature, so the logits should move by
 *   rms(error) ≤ (U/√3)·√(2S)·rms(logits),
 * which the test requires, and no single logit by more than
 *   max|error| ≤ 2·U·√(2S)·max|logit|.
 * Measured here: rms 0.77–0.87·U·rms(logits) (the bound is 2.4–2.9), max 0.7–1.2·U·max|logit|.
 * A 1% error in one table (the fp16 rotary sine scaled by 1.01) gives 3.1–3.8·U·rms and fails.
 */
const U = 2 ** -11;

function roundings(blocks: number): number {
  return 2 * (4 * blocks + 1);
}

interface ErrorStats {
  maxError: number;
  maxLogit: number;
  rmsError: number;
  rmsLogit: number;
}

function errorStats(expected: Float32Array, actual: Float32Array): ErrorStats {
  const mean = expected.reduce((sum, value) => sum + value, 0) / expected.length;
  let maxError = 0;
  let maxLogit = 0;
  let squaredError = 0;
  let squaredDeviation = 0;
  expected.forEach((value, i) => {
    const error = Math.abs((actual[i] as number) - value);
    maxError = Math.max(maxError, error);
    maxLogit = Math.max(maxLogit, Math.abs(value));
    squaredError += error ** 2;
    squaredDeviation += (value - mean) ** 2;
  });
  return { maxError, maxLogit, rmsError: Math.sqrt(squaredError / expected.length), rmsLogit: Math.sqrt(squaredDeviation / expected.length) };
}

async function exportFixture(name: string, head: ExportHead, dtype: WeightDtype, fused: boolean): Promise<string> {
  const outDir = join(tempDir(), `${name}-${head}-${dtype}-${fused ? 'fused' : 'standard'}`);
  await exportModel({ checkpointDir: fixtureDir(name), outDir, head, dtype, fused });
  return outDir;
}

function idsTensor(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, (rows[0] as number[]).length]);
}

async function logitsOf(exportDir: string, testCase: ParityCase): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'));
  const feeds: Record<string, ort.Tensor> = { input_ids: idsTensor(testCase.input_ids) };
  if (session.inputNames.includes('sigma')) feeds.sigma = new ort.Tensor('float32', Float32Array.from(testCase.sigma ?? []), [testCase.input_ids.length]);
  const logits = (await session.run(feeds)).logits?.data as Float32Array;
  await session.release();
  return logits;
}

for (const name of PARITY_FIXTURES) {
  for (const fused of [true, false]) {
    test(`fp16 logits match the fp32 export within float16's precision: ${name}, ${fused ? 'fused' : 'standard'} operators`, async (t) => {
      const fp32Dir = await exportFixture(name, 'logits', 'fp32', fused);
      const fp16Dir = await exportFixture(name, 'logits', 'fp16', fused);
      const manifest = await readManifest(fp16Dir);
      assert.equal(manifest.dtype, 'fp16');
      const full: number[] = [];
      const half: number[] = [];
      for (const testCase of parityCases(name)) {
        full.push(...(await logitsOf(fp32Dir, testCase)));
        half.push(...(await logitsOf(fp16Dir, testCase)));
      }
      assert.equal(half.length, full.length);
      const stats = errorStats(Float32Array.from(full), Float32Array.from(half));
      const spread = Math.sqrt(roundings(manifest.config.n_blocks));
      const rmsTolerance = (U / Math.sqrt(3)) * spread * stats.rmsLogit;
      const maxTolerance = 2 * U * spread * stats.maxLogit;
      t.diagnostic(
        `rms error ${(stats.rmsError / (U * stats.rmsLogit)).toFixed(2)}·U·rms(logits), tolerance ${(rmsTolerance / (U * stats.rmsLogit)).toFixed(2)}; ` +
          `max error ${(stats.maxError / (U * stats.maxLogit)).toFixed(2)}·U·max|logit|, tolerance ${(maxTolerance / (U * stats.maxLogit)).toFixed(2)}`,
      );
      assert.ok(stats.rmsError <= rmsTolerance, `rms error ${stats.rmsError} > ${rmsTolerance}`);
      assert.ok(stats.maxError <= maxTolerance, `max error ${stats.maxError} > ${maxTolerance}`);
      // The export really computes in float16: float32 alone differs by ~1e-6 from fp32.
      assert.ok(stats.rmsError > (U * stats.rmsLogit) / 20, `rms error ${stats.rmsError} is too small for float16 weights`);
    });
  }
}

const FIXTURE = 'tiny-uncond';

test('fp16 positions head at temperature 0 returns the argmax of the fp16 logits (mask excluded) and their log-probabilities', async () => {
  const testCase = parityCases(FIXTURE)[0] as ParityCase;
  const ids = testCase.input_ids[0] as number[];
  const logits = await logitsOf(await exportFixture(FIXTURE, 'logits', 'fp16', true), { ...testCase, input_ids: [ids] });
  const session = await ort.InferenceSession.create(join(await exportFixture(FIXTURE, 'positions', 'fp16', true), 'model.onnx'));
  const positions = ids.map((_, p) => p);
  const greedy = await drawFromHead(session, ids, positions, new Float64Array(positions.length).fill(0.5), 0);
  const vocab = logits.length / ids.length;
  positions.forEach((p, k) => {
    const row = Array.from(logits.subarray(p * vocab, (p + 1) * vocab));
    const probabilities = softmax(row, 1, vocab - 1);
    const best = probabilities.indexOf(Math.max(...probabilities));
    assert.equal(Number(greedy.tokens[k]), best, `position ${p}`);
    assert.ok(Math.abs((greedy.logprobs[k] as number) - Math.log(probabilities[best] as number)) < 1e-4, `log-prob at position ${p}`);
  });
  await session.release();
});

for (const temperature of [1, 0.6]) {
  test(`fp16 positions head draws from softmax(reference logits / ${temperature}), mask at probability 0 (the fp32 chi-square test)`, async (t) => {
    const session = await ort.InferenceSession.create(join(await exportFixture(FIXTURE, 'positions', 'fp16', true), 'model.onnx'));
    const testCase = parityCases(FIXTURE)[0] as ParityCase;
    const ids = testCase.input_ids[0] as number[];
    for (const position of [0, 5]) {
      const logits = (testCase.logits[0] as number[][])[position] as number[];
      t.diagnostic((await assertDrawsFollowSoftmax(session, ids, position, logits, temperature, 2000 + position)).summary);
    }
    await session.release();
  });
}
