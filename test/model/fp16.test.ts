import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readManifest } from '../../src/families/index.js';
import type { ExportHead, WeightDtype } from '../../src/model/index.js';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { assertDrawsFollowSoftmax, drawFromHead } from '../helpers/positions-head.js';
import { exportVariant, runLogits } from '../helpers/models.js';
import { assertWithinFloat16 } from '../helpers/precision.js';
import { softmax } from '../helpers/stats.js';

function exportFixture(name: string, head: ExportHead, dtype: WeightDtype, fused: boolean): Promise<string> {
  return exportVariant(fixtureDir(name), head, dtype, fused);
}

function logitsOf(exportDir: string, testCase: ParityCase): Promise<Float32Array> {
  return runLogits(exportDir, testCase.input_ids, testCase.sigma ?? undefined);
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
      t.diagnostic(assertWithinFloat16(Float32Array.from(full), Float32Array.from(half), manifest.config.n_blocks));
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
