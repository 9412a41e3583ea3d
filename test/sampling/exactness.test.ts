import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { WeightDtype } from '../../src/model/index.js';
import type { SamplerName } from '../../src/sampling/index.js';
import { startEngine } from '../helpers/engine.js';
import { type SamplerLaw, exactOutputLaw } from '../helpers/exact-samplers.js';
import { exportVariant, synthCheckpoint } from '../helpers/models.js';
import { assertFollowsLaw } from '../helpers/stats.js';

/**
 * The engine's samplers (first-hitting ddpm / ddpm_cache, sample head, batching) against
 * the exact distribution of the seed's ancestral ddpm sampler on a model small enough to
 * enumerate: 4 tokens plus the mask. The int8 export is held to the exact law of its own
 * network (its logits head), as the fp32 one is to fp32's.
 */
const VOCAB = 5;
const MASK = VOCAB - 1;
/**
 * Each chi-square check fails a correct sampler with probability ALPHA = 1e-4 (stats.ts).
 * Against the seed's ddpm at 1.1× the temperature (fp32 laws) its power at 4000 draws is
 * 0.98–1.0 in every case; at 2000 draws it would fall to 0.55–1.0.
 */
const DRAWS = 4000;
/** The seed's ddpm at temperature 1 (the ReMDM fields play no part in it). */
const SEED_DDPM: SamplerLaw = { sampler: 'ddpm', temperature: 1, topP: 1, topK: 0, eta: 0, tOn: 0.55, tOff: 0.05, alphaOn: 0.9 };

async function tinyModel(timeConditioning: boolean, length: number, dtype: WeightDtype) {
  const checkpoint = await synthCheckpoint({ vocab_size: VOCAB, model_length: length, hidden_dim: 16, cond_dim: 8, n_blocks: 2, n_heads: 2, time_conditioning: timeConditioning }, 11);
  const logits = await ort.InferenceSession.create(join(await exportVariant(checkpoint, 'logits', dtype, true), 'model.onnx'));
  after(() => logits.release());
  const engine = await startEngine(await exportVariant(checkpoint, 'positions', dtype, true), { maxBatch: 256 });
  return { logits, engine };
}

interface Case {
  name: string;
  timeConditioning: boolean;
  length: number;
  steps: number;
  eps: number;
  prefix: number[];
  semiAr?: { strideLength: number; numStrides: number };
}

const CASES: Case[] = [
  // eps = 0.2 makes noise removal (the greedy final pass) frequent enough to be tested too.
  { name: 'unconditional', timeConditioning: false, length: 4, steps: 12, eps: 0.2, prefix: [] },
  { name: 'prompt-conditioned', timeConditioning: false, length: 4, steps: 12, eps: 0.2, prefix: [2] },
  { name: 'semi-autoregressive', timeConditioning: false, length: 3, steps: 6, eps: 0, prefix: [], semiAr: { strideLength: 1, numStrides: 2 } },
  { name: 'time-conditioned', timeConditioning: true, length: 3, steps: 5, eps: 0.2, prefix: [1] },
];

// One model per shape and dtype, built once for the file and shared by both samplers (startEngine closes its runtime when the file's tests end).
const MODELS = new Map<string, Awaited<ReturnType<typeof tinyModel>>>();
const modelId = (testCase: Case, dtype: WeightDtype) => `${testCase.timeConditioning}-${testCase.length}-${dtype}`;
for (const testCase of CASES) {
  for (const dtype of ['fp32', 'int8'] as const) {
    if (!MODELS.has(modelId(testCase, dtype))) MODELS.set(modelId(testCase, dtype), await tinyModel(testCase.timeConditioning, testCase.length, dtype));
  }
}

for (const testCase of CASES) {
  for (const [sampler, dtype] of [['ddpm', 'fp32'], ['ddpm_cache', 'fp32'], ['ddpm', 'int8'], ['ddpm_cache', 'int8']] as [SamplerName, WeightDtype][]) {
    test(`${sampler} matches the seed's exact output distribution: ${testCase.name}${dtype === 'fp32' ? '' : `, ${dtype}`}`, async (t) => {
      const { logits, engine } = MODELS.get(modelId(testCase, dtype)) as Awaited<ReturnType<typeof tinyModel>>;
      const strides = testCase.semiAr?.numStrides ?? 0;
      const total = testCase.length + strides * (testCase.semiAr?.strideLength ?? 0);
      const initial = [...testCase.prefix, ...new Array(total - testCase.prefix.length).fill(MASK)];
      const exact = await exactOutputLaw({
        session: logits,
        timeConditioned: testCase.timeConditioning,
        maskId: MASK,
        steps: testCase.steps,
        eps: testCase.eps,
        initial,
        windowLength: testCase.length,
        stride: testCase.semiAr?.strideLength ?? 0,
        strides,
        // Both samplers are held to the seed's ancestral ddpm law.
        law: SEED_DDPM,
      });
      const total1 = [...exact.values()].reduce((sum, p) => sum + p, 0);
      assert.ok(Math.abs(total1 - 1) < 1e-9, `exact distribution sums to ${total1}`);

      const result = await engine.sample(
        {
          length: testCase.length,
          steps: testCase.steps,
          sampler,
          eps: testCase.eps,
          semiAr: testCase.semiAr,
          prefix: testCase.prefix,
          // Different seeds: the two samplers share the first-hitting plan, so one seed would give identical draws.
          seed: sampler === 'ddpm' ? 20241128 : 20241129,
        },
        DRAWS,
      );
      assertFollowsLaw(t, sampler, result.samplers.map((sample) => sample.canvas), exact);

      const passes = result.samplers.map((sample) => sample.forwardPasses);
      if (sampler === 'ddpm') {
        const perRound = testCase.steps + 1;
        assert.ok(passes.every((count) => count === perRound * (strides + 1)), 'ddpm runs T + 1 passes per round');
      } else {
        assert.ok(passes.every((count) => count >= 1 && count <= total + 1), 'ddpm_cache runs at most one pass per unmasked position plus noise removal');
      }
    });
  }
}
