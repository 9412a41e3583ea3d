/**
 * The baselines' generation through the real service (prepare, scheduler, worker, positions
 * head) against their exact output laws, computed state by state from the logits head of
 * the same .ckpt fixture (test/helpers/exact-baselines.ts, written from the seed):
 *  - SEDD's analytic sampler on sedd.ckpt: a 2-token window, unconditional and after a prompt;
 *  - the AR baseline's left-to-right sampler on ar.ckpt: 2 tokens after a prompt, plain and
 *    with temperature and top-k.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { GenerateRequest, GenerationService } from '../../src/generation/index.js';
import { type StepEvent, applyStepEvent } from '../../src/sampling/index.js';
import { ckptService, exportCkpt } from '../helpers/baselines.js';
import { exactArLaw, exactSeddLaw } from '../helpers/exact-baselines.js';
import { assertFollowsLaw } from '../helpers/stats.js';

const MASK = 19;
/** Each chi-square check fails a correct sampler with probability ALPHA = 1e-4 (stats.ts). */
const DRAWS = 8000;

/** Draws the request DRAWS times; `midway` also collects each sample's state after that step (from its step events). */
async function draw(service: GenerationService, request: GenerateRequest, midway?: number): Promise<{ outputs: number[][]; states: number[][]; passes: number[] }> {
  const prepared = service.prepare({ ...request, numSamples: DRAWS });
  const states = Array.from({ length: DRAWS }, () => Array.from(prepared.sampling.initial));
  const onStep = (sample: number, event: StepEvent) => {
    if (midway !== undefined && event.step <= midway) applyStepEvent(states[sample] as number[], event, MASK);
  };
  const result = await service.generate(prepared, { onStep });
  return { outputs: result.samples.map((sample) => sample.tokenIds), states, passes: result.samples.map((sample) => sample.forwardPasses) };
}


// `midway`: the step after which the partly masked state is checked too, where when positions unmask shows most.
const SEDD_CASES = [
  { name: 'unconditional', prompt: [] as number[], length: 2, steps: 6, midway: 1 },
  { name: 'after a prompt', prompt: [4], length: 3, steps: 4, midway: 0 },
];

for (const testCase of SEDD_CASES) {
  test(`SEDD analytic sampler matches the seed's exact output law: ${testCase.name}`, async (t) => {
    const session = await ort.InferenceSession.create(join(await exportCkpt('sedd', 'logits'), 'model.onnx'));
    const initial = [...testCase.prompt, ...new Array<number>(testCase.length - testCase.prompt.length).fill(MASK)];
    const setup = { session, maskId: MASK, steps: testCase.steps, eps: 1e-5, initial };
    const service = await ckptService('sedd');
    try {
      const { outputs, states, passes } = await draw(service, { prompt: testCase.prompt, length: testCase.length, steps: testCase.steps, seed: 31 }, testCase.midway);
      assertFollowsLaw(t, `after step ${testCase.midway}`, states, await exactSeddLaw(setup, testCase.midway));
      assertFollowsLaw(t, 'output', outputs, await exactSeddLaw(setup));
      // A pass at every step while something is masked, the denoiser step included.
      assert.ok(passes.every((count) => count >= 1 && count <= testCase.steps + 1));
      assert.ok(passes.some((count) => count > 1), 'some sample unmasks over several steps');
    } finally {
      await service.close();
      await session.release();
    }
  });
}

const AR_CASES = [
  { name: 'temperature 1', temperature: 1, topK: 0 },
  { name: 'temperature 0.7, top-k 3', temperature: 0.7, topK: 3 },
];

for (const testCase of AR_CASES) {
  test(`AR baseline generates left to right from the causal conditionals: ${testCase.name}`, async (t) => {
    const session = await ort.InferenceSession.create(join(await exportCkpt('ar', 'logits'), 'model.onnx'));
    const exact = await exactArLaw({ session, maskId: MASK, head: [3], generate: 2, temperature: testCase.temperature, topK: testCase.topK, topP: 1 });
    const service = await ckptService('ar');
    try {
      const { outputs, passes } = await draw(service, { prompt: [3], newTokens: 2, seed: 41, temperature: testCase.temperature, topK: testCase.topK });
      assertFollowsLaw(t, 'output', outputs, exact);
      assert.ok(passes.every((count) => count === 2), 'one pass per generated token');
    } finally {
      await service.close();
      await session.release();
    }
  });
}
