import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readManifest } from '../../src/families/index.js';
import { PARITY_FIXTURES, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { exportHead } from '../helpers/models.js';

/** Logits of order 1–10 must match the float64 numpy reference to 1e-4. */
const TOLERANCE = 1e-4;

for (const name of PARITY_FIXTURES) {
  for (const fused of [true, false]) {
    test(`logits head matches the reference: ${name}, ${fused ? 'fused' : 'standard'} operators`, async (t) => {
      const exportDir = await exportHead(fixtureDir(name), 'logits', fused);
      const manifest = await readManifest(exportDir);
      const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'));
      assert.equal(session.inputNames.includes('sigma'), manifest.config.time_conditioning);
      let maxError = 0;
      for (const testCase of parityCases(name)) {
        const batch = testCase.input_ids.length;
        const length = (testCase.input_ids[0] as number[]).length;
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(testCase.input_ids.flat(), BigInt), [batch, length]),
        };
        if (manifest.config.time_conditioning) feeds.sigma = new ort.Tensor('float32', Float32Array.from(testCase.sigma ?? []), [batch]);
        const logits = (await session.run(feeds)).logits?.data as Float32Array;
        const expected = testCase.logits.flat(2);
        assert.equal(logits.length, expected.length);
        expected.forEach((value, i) => {
          maxError = Math.max(maxError, Math.abs((logits[i] as number) - value));
        });
      }
      t.diagnostic(`max abs logit error ${maxError.toExponential(2)}`);
      assert.ok(maxError <= TOLERANCE, `max abs error ${maxError} > ${TOLERANCE}`);
      await session.release();
    });
  }
}
