/**
 * The samplers of spec §9 through the real engine, against their exact output laws computed
 * state by state from the logits head (test/helpers/exact-samplers.ts), on a model small
 * enough to enumerate: 4 tokens plus the mask, windows of 3. Chi-square at alpha 1e-4 with
 * the sample size and threshold in each test's log; forward passes against their expectation.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { WeightDtype } from '../../src/model/index.js';
import { REMDM_DEFAULTS } from '../../src/sampling/index.js';
import { startEngine } from '../helpers/engine.js';
import { type SamplerLaw, exactOutputLaw, expectedRemaskPasses } from '../helpers/exact-samplers.js';
import { exportVariant, synthCheckpoint } from '../helpers/models.js';
import { assertFollowsLaw } from '../helpers/stats.js';

const VOCAB = 5;
const MASK = VOCAB - 1;
/**
 * Each chi-square check fails a correct sampler with probability ALPHA = 1e-4 (stats.ts; the
 * seeds are fixed, so a run never flips). Against the same sampler at 1.1× the temperature (fp32
 * laws), the check's power at 4000 draws is 0.97–1.0 in seven cases, 0.72 for remdm-conf and
 * 0.10–0.63 where top-k or top-p hides most of the change; at 2000 draws it would fall to
 * 0.53–0.98, 0.22 and 0.02–0.15.
 */
const DRAWS = 4000;

async function tinyModel(timeConditioning: boolean, dtype: WeightDtype = 'fp32') {
  const checkpoint = await synthCheckpoint({ vocab_size: VOCAB, model_length: 3, hidden_dim: 16, cond_dim: 8, n_blocks: 2, n_heads: 2, time_conditioning: timeConditioning }, 13);
  const logits = await ort.InferenceSession.create(join(await exportVariant(checkpoint, 'logits', dtype, true), 'model.onnx'));
  const engine = await startEngine(await exportVariant(checkpoint, 'positions', dtype, true), { maxBatch: 256 });
  return { logits, engine };
}

// Built once for the file (startEngine closes its runtime when the file's tests end).
const MODELS = new Map([
  ['false-fp32', await tinyModel(false)],
  ['true-fp32', await tinyModel(true)],
  ['false-int8', await tinyModel(false, 'int8')],
]);
const model = (timeConditioned: boolean, dtype: WeightDtype) => MODELS.get(`${timeConditioned}-${dtype}`) as Awaited<ReturnType<typeof tinyModel>>;

interface Case {
  name: string;
  law: Partial<SamplerLaw> & Pick<SamplerLaw, 'sampler'>;
  steps: number;
  eps: number;
  prefix?: number[];
  semiAr?: { strideLength: number; numStrides: number };
  timeConditioned?: boolean;
  /** Held to the exact law of the int8 network too (the cases quick to enumerate). */
  int8?: true;
}

const CASES: Case[] = [
  { name: 'analytic: noise removal samples', law: { sampler: 'analytic' }, steps: 6, eps: 0.3, int8: true },
  { name: 'ddpm_cache with temperature 0.7 and top_k 2', law: { sampler: 'ddpm_cache', temperature: 0.7, topK: 2 }, steps: 8, eps: 0.2, int8: true },
  { name: 'ddpm with temperature 3 and top_p 0.95', law: { sampler: 'ddpm', temperature: 3, topP: 0.95 }, steps: 6, eps: 0.2, int8: true },
  { name: 'remdm-cap', law: { sampler: 'remdm-cap', eta: 0.3 }, steps: 8, eps: 0.2 },
  { name: 'remdm-rescale', law: { sampler: 'remdm-rescale', eta: 0.6 }, steps: 8, eps: 0.2 },
  { name: 'remdm-loop', law: { sampler: 'remdm-loop', eta: 0.8, tOn: 0.7, tOff: 0.2, alphaOn: 0.5 }, steps: 10, eps: 0.1 },
  { name: 'remdm-conf', law: { sampler: 'remdm-conf' }, steps: 8, eps: 0.2, int8: true },
  { name: 'remdm-cap with temperature 3, top_p 0.85 and a prompt that never remasks', law: { sampler: 'remdm-cap', eta: 0.4, temperature: 3, topP: 0.85 }, steps: 8, eps: 0.2, prefix: [2], int8: true },
  { name: 'remdm-loop, semi-autoregressive', law: { sampler: 'remdm-loop', eta: 0.8, tOn: 0.7, tOff: 0.2, alphaOn: 0.5 }, steps: 6, eps: 0, semiAr: { strideLength: 1, numStrides: 2 } },
  { name: 'remdm-rescale, time-conditioned', law: { sampler: 'remdm-rescale', eta: 0.6 }, steps: 6, eps: 0.2, timeConditioned: true },
];

function fullLaw(partial: Case['law']): SamplerLaw {
  return { temperature: 1, topP: 1, topK: 0, eta: 0, tOn: REMDM_DEFAULTS.tOn, tOff: REMDM_DEFAULTS.tOff, alphaOn: REMDM_DEFAULTS.alphaOn, ...partial };
}

const RUNS = CASES.flatMap((testCase, index) => (testCase.int8 ? ['fp32', 'int8'] : ['fp32']).map((dtype) => ({ testCase, index, dtype: dtype as WeightDtype })));

for (const { testCase, index, dtype } of RUNS) {
  test(`${testCase.name}: the engine draws from the exact output law${dtype === 'fp32' ? '' : `, ${dtype}`}`, async (t) => {
    const { logits, engine } = model(testCase.timeConditioned ?? false, dtype);
    const law = fullLaw(testCase.law);
    const strides = testCase.semiAr?.numStrides ?? 0;
    const total = 3 + strides * (testCase.semiAr?.strideLength ?? 0);
    const prefix = testCase.prefix ?? [];
    const initial = [...prefix, ...new Array(total - prefix.length).fill(MASK)];
    const exact = await exactOutputLaw({ session: logits, timeConditioned: testCase.timeConditioned ?? false, maskId: MASK, steps: testCase.steps, eps: testCase.eps, initial, windowLength: 3, stride: testCase.semiAr?.strideLength ?? 0, strides, law });
    const remask = law.sampler.startsWith('remdm') ? { eta: law.sampler === 'remdm-conf' ? undefined : law.eta, ...(law.sampler === 'remdm-loop' && { tOn: law.tOn, tOff: law.tOff, alphaOn: law.alphaOn }) } : {};
    const { samplers } = await engine.sample(
      { length: 3, steps: testCase.steps, sampler: law.sampler, temperature: law.temperature, topP: law.topP, topK: law.topK, eps: testCase.eps, prefix, semiAr: testCase.semiAr, seed: 9000 + index, ...remask },
      DRAWS,
    );
    const fit = assertFollowsLaw(t, law.sampler, samplers.map((sample) => sample.canvas), exact);
    assert.ok(fit.degreesOfFreedom >= 3, 'the law has outcomes enough to tell samplers apart');
    if (prefix.length > 0) for (const sample of samplers) assert.deepEqual(Array.from(sample.canvas.subarray(0, prefix.length)), prefix, 'a fixed token never remasks');
  });
}

for (const [sampler, eta] of [['remdm-cap', 0.3], ['remdm-rescale', 0.6], ['remdm-loop', 0.8]] as const) {
  test(`${sampler}: forward passes follow their law (a pass only at steps where something unmasks)`, async (t) => {
    const { engine } = model(false, 'fp32');
    const law = fullLaw({ sampler, eta, ...(sampler === 'remdm-loop' && { tOn: 0.7, tOff: 0.2, alphaOn: 0.5 }) });
    const steps = 40;
    const eps = 0.05;
    const samples = 600;
    const { samplers } = await engine.sample({ length: 3, steps, sampler, eps, seed: 77, eta, ...(sampler === 'remdm-loop' && { tOn: 0.7, tOff: 0.2, alphaOn: 0.5 }) }, samples);
    const passes = samplers.map((sample) => sample.forwardPasses);
    const mean = passes.reduce((sum, p) => sum + p, 0) / samples;
    const sd = Math.sqrt(passes.reduce((sum, p) => sum + (p - mean) ** 2, 0) / (samples - 1));
    const expected = expectedRemaskPasses(law, steps, eps, 3);
    const z = (mean - expected) / (sd / Math.sqrt(samples));
    t.diagnostic(`mean passes ${mean.toFixed(3)}, expected ${expected.toFixed(3)} (of ${steps} steps), z ${z.toFixed(2)}`);
    assert.ok(Math.abs(z) < 4.5, `z = ${z}`);
    assert.ok(expected < steps, 'fewer passes than steps');
  });
}
