/**
 * The seed's own checkpoints exported from their .ckpt files, against the golden outputs of
 * test/reference/baselines_reference.py (torch.load of the same files, float64 numpy written
 * from the seed's models/autoregressive.py and diffusion.py):
 *  - the AR baseline's logits (mask logit −1000), EMA and raw weights, fused and standard, fp16;
 *  - SEDD's network, and its score-entropy loss and analytic step law from the positions head;
 *  - the MDLM fixture's logits.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { totalNoise } from '../../src/diffusion/index.js';
import { readManifest } from '../../src/families/index.js';
import { seddLoss, seddUnmaskProbability } from '../../src/families/sedd/index.js';
import { exportCkpt } from '../helpers/baselines.js';
import { runLogits } from '../helpers/models.js';
import { drawFromHead } from '../helpers/positions-head.js';
import { assertWithinFloat16, maxAbsError } from '../helpers/precision.js';
import { softmax } from '../helpers/stats.js';

interface LogitsCase {
  input_ids: number[][];
  logits: number[][][];
}
interface ArCase extends LogitsCase {
  weights: 'ema' | 'raw';
  mask_index: number;
  token_nll: number[][];
}
interface SeddEntry {
  row: number;
  position: number;
  target: number;
  t: number;
  s: number | null;
  loss: number;
  unmask: number;
  token_law: number[];
}
interface Golden {
  ar: ArCase[];
  sedd: LogitsCase & { mask_index: number; sigma: number[]; entries: SeddEntry[] };
  mdlm: LogitsCase;
}

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'baselines', 'golden.json'), 'utf8')) as Golden;
const TOLERANCE = 1e-4;

for (const arCase of golden.ar) {
  for (const fused of [true, false]) {
    test(`AR baseline (${arCase.weights} weights, mask ${arCase.mask_index}, ${fused ? 'fused' : 'standard'}): logits match the reference to 1e-4, the mask's at −1000`, async (t) => {
      const dir = await exportCkpt('ar', 'logits', { weights: arCase.weights, maskIndex: arCase.mask_index, fused });
      const manifest = await readManifest(dir);
      assert.deepEqual({ architecture: manifest.architecture, parameterization: manifest.parameterization, weights: manifest.checkpoint.weights }, { architecture: 'ar', parameterization: 'ar', weights: arCase.weights });
      const logits = await runLogits(dir, arCase.input_ids);
      const error = maxAbsError(logits, arCase.logits.flat(2));
      t.diagnostic(`max |logit − reference| ${error.toExponential(2)}`);
      assert.ok(error < TOLERANCE, `max error ${error}`);
      const V = manifest.config.vocab_size;
      for (let i = arCase.mask_index; i < logits.length; i += V) assert.equal(logits[i], -1000);
    });
  }
}

test('AR baseline in fp16: logits within float16 rounding of fp32 (the mask column aside)', async (t) => {
  const rows = (golden.ar[0] as ArCase).input_ids;
  const full = await runLogits(await exportCkpt('ar', 'logits'), rows);
  const half = await runLogits(await exportCkpt('ar', 'logits', { dtype: 'fp16' }), rows);
  const V = full.length / (rows.length * (rows[0] as number[]).length);
  const withoutMask = (logits: Float32Array) => logits.filter((_, i) => i % V !== V - 1);
  t.diagnostic(assertWithinFloat16(withoutMask(full), withoutMask(half), 2));
});

test("AR baseline's positions head: causal entries (the entry at p is the distribution of p + 1), the reference's log-likelihood of each target", async () => {
  const arCase = golden.ar[0] as ArCase;
  const session = await ort.InferenceSession.create(join(await exportCkpt('ar', 'positions'), 'model.onnx'));
  for (const [r, row] of arCase.input_ids.entries()) {
    const positions = row.slice(0, -1).map((_, p) => p);
    const scored = await drawFromHead(session, row, [0], Float64Array.of(0.5), 1, { score: { positions, targets: row.slice(1) } });
    const nll = (arCase.token_nll[r] as number[]);
    positions.forEach((p) => assert.ok(Math.abs(-(scored.logprobs[1 + p] as number) - (nll[p] as number)) < TOLERANCE, `row ${r}, target ${p + 1}`));
  }
  await session.release();
});

test('SEDD network (time-conditioned DIT from sedd.ckpt): logits match the reference to 1e-4 at every sigma', async (t) => {
  const dir = await exportCkpt('sedd', 'logits');
  const manifest = await readManifest(dir);
  assert.deepEqual({ architecture: manifest.architecture, parameterization: manifest.parameterization }, { architecture: 'mdlm', parameterization: 'sedd' });
  const error = maxAbsError(await runLogits(dir, golden.sedd.input_ids, golden.sedd.sigma), golden.sedd.logits.flat(2));
  t.diagnostic(`max |logit − reference| ${error.toExponential(2)}`);
  assert.ok(error < TOLERANCE, `max error ${error}`);
});

test("SEDD from the positions head: the score-entropy loss, the analytic step's unmasking probability and its token law equal the seed's", async (t) => {
  const session = await ort.InferenceSession.create(join(await exportCkpt('sedd', 'positions'), 'model.onnx'));
  const logitsDir = await exportCkpt('sedd', 'logits');
  const V = 20;
  let worst = 0;
  for (const [row, ids] of golden.sedd.input_ids.entries()) {
    const entries = golden.sedd.entries.filter((entry) => entry.row === row);
    const sigma = golden.sedd.sigma[row] as number;
    const scored = await drawFromHead(session, ids, [0], Float64Array.of(0.5), 1, { sigma, score: { positions: entries.map((e) => e.position), targets: entries.map((e) => e.target) } });
    const logits = await runLogits(logitsDir, [ids], [sigma]);
    entries.forEach((entry, k) => {
      const entryOut = { logprob: scored.logprobs[1 + k] as number, logsumexp: scored.logsumexp[1 + k] as number };
      const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
      const lossError = relative(seddLoss(V)(entry.t, entryOut), entry.loss);
      const unmask = entry.s === null ? 1 : seddUnmaskProbability(totalNoise(entry.t), totalNoise(entry.s), entryOut.logsumexp, V);
      const unmaskError = Math.abs(unmask - entry.unmask);
      // The token the step takes is the positions head's draw at temperature 1: softmax of the logits, mask excluded.
      const law = softmax(logits.subarray(entry.position * V, (entry.position + 1) * V), 1, golden.sedd.mask_index);
      const lawError = entry.token_law.reduce((max, p, y) => Math.max(max, Math.abs(p - (law[y] as number))), 0);
      worst = Math.max(worst, lossError, unmaskError, lawError);
      assert.ok(lossError < TOLERANCE, `loss at t ${entry.t}, position ${entry.position}: relative error ${lossError}`);
      assert.ok(unmaskError < TOLERANCE, `unmask probability at t ${entry.t}: ${unmask} vs ${entry.unmask}`);
      assert.ok(lawError < TOLERANCE, `token law at t ${entry.t}`);
    });
  }
  const saturated = golden.sedd.entries.filter((entry) => entry.unmask === 1).length;
  t.diagnostic(`${golden.sedd.entries.length} masked positions over 5 steps (${saturated} with unmasking probability 1); worst error ${worst.toExponential(2)}`);
  assert.ok(saturated < golden.sedd.entries.length, 'some step leaves positions masked');
  await session.release();
});

test('an MDLM .ckpt exports with its EMA weights: logits match the reference to 1e-4', async () => {
  const dir = await exportCkpt('mdlm', 'logits');
  const manifest = await readManifest(dir);
  assert.equal(manifest.parameterization, 'subs');
  assert.ok(maxAbsError(await runLogits(dir, golden.mdlm.input_ids), golden.mdlm.logits.flat(2)) < TOLERANCE);
});
