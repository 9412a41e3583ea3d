import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readAnyManifest } from '../../src/families/index.js';
import { GPT2_PARITY_FIXTURES, gpt2Cases, gpt2FixtureDir } from '../helpers/fixtures.js';
import { exportVariant, runLogits } from '../helpers/models.js';
import { drawFromHead } from '../helpers/positions-head.js';
import { assertWithinFloat16, maxAbsError } from '../helpers/precision.js';
import { softmax } from '../helpers/stats.js';

/** Logits of order 1–10 must match the float64 numpy reference to 1e-4. */
const TOLERANCE = 1e-4;

for (const name of GPT2_PARITY_FIXTURES) {
  for (const fused of [true, false]) {
    test(`GPT-2 logits head matches the reference: ${name}, ${fused ? 'fused' : 'standard'} operators`, async (t) => {
      const exportDir = await exportVariant(gpt2FixtureDir(name), 'logits', 'fp32', fused);
      const manifest = await readAnyManifest(exportDir);
      assert.equal(manifest.architecture, 'gpt2');
      let worst = 0;
      for (const testCase of gpt2Cases(name)) worst = Math.max(worst, maxAbsError(await runLogits(exportDir, testCase.input_ids), testCase.logits.flat(2)));
      t.diagnostic(`max abs logit error ${worst.toExponential(2)}`);
      assert.ok(worst <= TOLERANCE, `max abs error ${worst} > ${TOLERANCE}`);
    });
  }
}

for (const name of GPT2_PARITY_FIXTURES) {
  test(`GPT-2 positions head, ${name}: the score at p is the reference log-softmax of the logits at p, and temperature 0 draws their argmax`, async () => {
    const session = await ort.InferenceSession.create(join(await exportVariant(gpt2FixtureDir(name), 'positions', 'fp32', true), 'model.onnx'));
    for (const testCase of gpt2Cases(name)) {
      for (let row = 0; row < testCase.input_ids.length; row++) {
        const ids = testCase.input_ids[row] as number[];
        const logits = testCase.logits[row] as number[][];
        const vocab = (logits[0] as number[]).length;
        const positions = ids.map((_, p) => p);
        // The next token as the target where there is one, any other token at the last position.
        const targets = positions.map((p): number => ids[p + 1] ?? (p * 7 + 3) % vocab);
        const out = await drawFromHead(session, ids, positions, new Float64Array(positions.length).fill(0.5), 0, { score: { positions, targets } });
        positions.forEach((p, k) => {
          const probabilities = softmax(logits[p] as number[]);
          const best = probabilities.indexOf(Math.max(...probabilities));
          assert.equal(Number(out.tokens[k]), best, `argmax at row ${row} position ${p}`);
          const entry = positions.length + k; // scores follow the draws
          const expected = Math.log(probabilities[targets[k] as number] as number);
          assert.ok(Math.abs((out.logprobs[entry] as number) - expected) < 1e-4, `score at row ${row} position ${p}: ${out.logprobs[entry]} vs ${expected}`);
        });
      }
    }
    await session.release();
  });
}

for (const name of GPT2_PARITY_FIXTURES) {
  test(`GPT-2 fp16 logits match the fp32 export within float16's precision: ${name}`, async (t) => {
    const layers = (JSON.parse(readFileSync(join(gpt2FixtureDir(name), 'config.json'), 'utf8')) as { n_layer: number }).n_layer;
    for (const fused of [true, false]) {
      const fp32Dir = await exportVariant(gpt2FixtureDir(name), 'logits', 'fp32', fused);
      const fp16Dir = await exportVariant(gpt2FixtureDir(name), 'logits', 'fp16', fused);
      const full: number[] = [];
      const half: number[] = [];
      for (const testCase of gpt2Cases(name)) {
        full.push(...(await runLogits(fp32Dir, testCase.input_ids)));
        half.push(...(await runLogits(fp16Dir, testCase.input_ids)));
      }
      t.diagnostic(`${fused ? 'fused' : 'standard'}: ${assertWithinFloat16(Float32Array.from(full), Float32Array.from(half), layers)}`);
    }
  });
}
