/**
 * SequenceSampler on its own, its passes answered by a fake head (no onnxruntime): the rows it
 * offers, steps that only remask, round transitions, the events it reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { totalNoise } from '../../src/diffusion/index.js';
import { SeededRandom } from '../../src/random.js';
import type { PassRow, RowResult } from '../../src/runtime/index.js';
import {
  type PlannedStep,
  type RoundFactory,
  type RoundStart,
  type SamplingParams,
  type SemiArParams,
  SequenceSampler,
  type StepEvent,
  TimeGrid,
  initialCanvas,
  layoutCanvas,
} from '../../src/sampling/index.js';

const MASK = 9;
const MODEL = { maskId: MASK, vocabSize: 10, timeConditioned: true };
const WIDTH = 2;

/** The fake head's answer at window position p: token p % 8, log-probability −p/10, alternatives [p % 8, 8]. */
function fakeResult(row: PassRow): RowResult {
  const positions = Array.from(row.draws?.positions ?? []);
  const entries = (values: (p: number) => number) => Float32Array.from(positions, values);
  return {
    draws: {
      tokens: Int32Array.from(positions, (p) => p % 8),
      sampledLogprobs: entries((p) => -p / 20),
      logprobs: entries((p) => -p / 10),
      logsumexp: entries((p) => p),
      topTokens: Int32Array.from(positions.flatMap((p) => [p % 8, 8])),
      topLogprobs: Float32Array.from(positions.flatMap((p) => [-p / 10, -5])),
      topWidth: WIDTH,
    },
    scores: { logprobs: new Float32Array(0), logsumexp: new Float32Array(0), topTokens: new Int32Array(0), topLogprobs: new Float32Array(0), topWidth: WIDTH },
  };
}

/** A round that plans the given steps, in order, and records what it was started with. */
function scripted(rounds: Omit<PlannedStep, 'greedy' | 'settled'>[][], starts: RoundStart[] = [], kept?: (planned: PlannedStep) => boolean[]): RoundFactory {
  return (start) => {
    starts.push({ ...start, window: { ...start.window } });
    const steps = [...(rounds[starts.length - 1] ?? [])];
    return { next: () => {
      const step = steps.shift();
      return step && { ...step, greedy: false, settled: step.remasked.length === 0 };
    }, ...(kept && { kept }) };
  };
}

interface LayoutOptions {
  length?: number;
  head?: number[];
  semiAr?: SemiArParams;
  entryOffset?: number;
}

function params(rounds: RoundFactory, options: LayoutOptions = {}): SamplingParams {
  const layout = layoutCanvas({ head: options.head ?? [], tail: [], windowLength: options.length ?? 6, semiAr: options.semiAr }, 8);
  return {
    steps: 4,
    sampler: 'scripted',
    rounds,
    entryOffset: options.entryOffset,
    temperature: 0.8,
    topP: 0.9,
    topK: 3,
    layout,
    initial: initialCanvas(layout, options.head ?? [], [], MASK),
  };
}

/** Runs a sampler to the end, answering each row with the fake head; returns the rows it offered. */
function drive(sampler: SequenceSampler): PassRow[] {
  const offered: PassRow[] = [];
  while (!sampler.finished) {
    const row = sampler.takeRow();
    offered.push({ ...row, tokens: row.tokens.slice() });
    sampler.apply(row, fakeResult(row));
  }
  return offered;
}

test('each row is the window as it is, with a draw per planned position, the sample’s uniforms and settings, and sigma(t)', () => {
  const starts: RoundStart[] = [];
  const steps = [
    { step: 0, positions: [1, 4], remasked: [], needsPass: true },
    { step: 2, positions: [0], remasked: [], needsPass: true },
  ];
  const rounds = scripted([steps], starts);
  const sampler = new SequenceSampler(params(rounds), MODEL, SeededRandom.fromSeed(3));
  const [first, second] = drive(sampler);
  const grid = new TimeGrid(4, 1e-5);
  const uniforms = SeededRandom.fromSeed(3);
  assert.deepEqual(first?.tokens, Int32Array.of(MASK, MASK, MASK, MASK, MASK, MASK));
  const drawn = Float64Array.of(uniforms.uniformPositive(), uniforms.uniformPositive());
  assert.deepEqual(first?.draws, { positions: Int32Array.of(1, 4), uniforms: drawn, temperature: 0.8, topP: 0.9, topK: 3 });
  assert.equal(first?.sigma, totalNoise(grid.time(0)));
  assert.deepEqual(second?.tokens, Int32Array.of(MASK, 1, MASK, MASK, 4, MASK), 'the first pass’s tokens are in place');
  assert.equal(second?.sigma, totalNoise(grid.time(2)));
  assert.deepEqual(Array.from(sampler.canvas), [0, 1, MASK, MASK, 4, MASK]);
  assert.deepEqual(Array.from(sampler.logprobs), [-0, -0.1, Number.NaN, Number.NaN, -0.4, Number.NaN].map((value) => Math.fround(value)));
  assert.deepEqual(Array.from(sampler.topTokens), [0, 8, 1, 8, 0, 0, 0, 0, 4, 8, 0, 0]);
  assert.equal(sampler.forwardPasses, 2);
  assert.deepEqual(starts[0]?.window, { start: 0, length: 6 });
});

test('a step that only remasks needs no pass: it is applied on the way to the next row, and reported', () => {
  const events: StepEvent[] = [];
  const rounds = scripted([
    [
      { step: 0, positions: [2, 3], remasked: [], needsPass: true },
      { step: 1, positions: [], remasked: [3], needsPass: false },
      { step: 2, positions: [], remasked: [2], needsPass: false },
      { step: 3, positions: [2, 3], remasked: [], needsPass: true },
    ],
  ]);
  const sampler = new SequenceSampler(params(rounds), MODEL, SeededRandom.fromSeed(1), (event) => events.push(event));
  const first = sampler.takeRow();
  assert.equal(sampler.peekRow(), undefined, 'nothing more is ready while a row is in flight');
  sampler.apply(first, fakeResult(first));
  const next = sampler.peekRow();
  assert.deepEqual(Array.from(next?.draws?.positions ?? []), [2, 3], 'the next row is the next pass, past both remasks');
  assert.deepEqual(next?.tokens, Int32Array.of(MASK, MASK, MASK, MASK, MASK, MASK), 'both remasks were applied before it');
  assert.equal(sampler.forwardPasses, 1);
  assert.deepEqual(
    events.map(({ step, positions, remasked, forwardPasses, settled }) => ({ step, positions, remasked, forwardPasses, settled })),
    [
      { step: 0, positions: [2, 3], remasked: [], forwardPasses: 1, settled: true },
      { step: 1, positions: [], remasked: [3], forwardPasses: 1, settled: false },
      { step: 2, positions: [], remasked: [2], forwardPasses: 1, settled: false },
    ],
  );
});

test('rounds follow one another over the strides: each starts on its own window, its rows cover it', () => {
  const starts: RoundStart[] = [];
  const events: StepEvent[] = [];
  const rounds = scripted(
    [
      [{ step: 0, positions: [4, 5], remasked: [], needsPass: true }],
      [{ step: 1, positions: [7], remasked: [], needsPass: true }],
      [{ step: 4, positions: [8, 9], remasked: [], needsPass: true }],
    ],
    starts,
  );
  const head = [5, 6, 7, 1];
  const strided = params(rounds, { head, length: 8, semiAr: { strideLength: 2, numStrides: 2 } });
  const sampler = new SequenceSampler(strided, MODEL, SeededRandom.fromSeed(2), (event) => events.push(event));
  const offered = drive(sampler);
  assert.deepEqual(starts.map((start) => start.window), [{ start: 0, length: 8 }, { start: 2, length: 8 }, { start: 4, length: 8 }]);
  assert.deepEqual(offered.map((row) => Array.from(row.draws?.positions ?? [])), [[4, 5], [5], [4, 5]], 'window positions');
  assert.deepEqual(Array.from(offered[1]?.tokens ?? []), [7, 1, 4, 5, MASK, MASK, MASK, MASK], 'round 1 sees the output from position 2');
  assert.equal(offered[0]?.sigma, totalNoise(1));
  assert.equal(offered[2]?.sigma, 0, 'the greedy pass that closes a semi-autoregressive round gets sigma 0, as the seed feeds it');
  assert.deepEqual(events.map((event) => [event.round, event.positions]), [[0, [4, 5]], [1, [7]], [2, [8, 9]]]);
  assert.deepEqual(Array.from(sampler.canvas), [5, 6, 7, 1, 4, 5, MASK, 5, 4, 5, MASK, MASK]);
  assert.equal(sampler.totalSteps, 4 * 3);
});

test('onStep reports each change: time, the tokens with their log-probabilities and alternatives, over the whole output', () => {
  const events: StepEvent[] = [];
  const rounds = scripted([[{ step: 1, positions: [5, 0], remasked: [], needsPass: true }]]);
  const sampler = new SequenceSampler(params(rounds, { head: [3, 2], length: 8 }), MODEL, SeededRandom.fromSeed(4), (event) => events.push(event));
  drive(sampler);
  assert.deepEqual(events, [
    {
      round: 0,
      step: 1,
      t: new TimeGrid(4, 1e-5).time(1),
      forwardPasses: 1,
      positions: [5, 0],
      tokens: [5, 0],
      logprobs: [Math.fround(-0.5), -0],
      top: { tokens: [5, 8, 0, 8], logprobs: [Math.fround(-0.5), -5, -0, -5], width: WIDTH },
      remasked: [],
      settled: true,
    },
  ]);
});

test('a causal model’s draws sit one entry earlier; a round’s kept() decides which draws take effect', () => {
  const events: StepEvent[] = [];
  const notAtThree = (planned: PlannedStep) => planned.positions.map((position) => position !== 3);
  const rounds = scripted([[{ step: 0, positions: [2, 3, 4], remasked: [], needsPass: true }]], [], notAtThree);
  const sampler = new SequenceSampler(params(rounds, { head: [1, 1], entryOffset: 1 }), MODEL, SeededRandom.fromSeed(5), (event) => events.push(event));
  const [row] = drive(sampler);
  assert.deepEqual(Array.from(row?.draws?.positions ?? []), [1, 2, 3]);
  assert.deepEqual(Array.from(sampler.canvas), [1, 1, 1, MASK, 3, MASK], 'entry p’s token goes to p + 1; the draw at 3 was not kept');
  assert.deepEqual([events[0]?.positions, events[0]?.tokens], [[2, 4], [1, 3]]);
});

test('the shared table’s rounds by sampler name: ddpm passes at every step and ends with every position decoded', () => {
  const layout = layoutCanvas({ head: [], tail: [], windowLength: 8 }, 8);
  const base = { steps: 5, temperature: 1, topP: 1, topK: 0, layout, initial: initialCanvas(layout, [], [], MASK) };
  const ddpm = new SequenceSampler({ ...base, sampler: 'ddpm' }, MODEL, SeededRandom.fromSeed(6));
  const rows = drive(ddpm);
  assert.equal(rows.length, 5 + 1, 'T steps and the noise removal');
  assert.equal(rows.at(-1)?.draws?.temperature, 0, 'noise removal takes the argmax');
  assert.ok(!ddpm.canvas.includes(MASK));
  const cached = new SequenceSampler({ ...base, sampler: 'ddpm_cache' }, MODEL, SeededRandom.fromSeed(6));
  const cachedRows = drive(cached);
  assert.ok(cachedRows.length <= rows.length, 'ddpm_cache passes no more often than ddpm');
  assert.ok(cachedRows.every((row) => (row.draws?.positions.length ?? 0) > 0), 'ddpm_cache passes only where something unmasks');
  assert.throws(() => new SequenceSampler({ ...base, sampler: 'nonesuch' }, MODEL, SeededRandom.fromSeed(6)), /no rounds for the sampler nonesuch/);
});

test('misuse is refused: taking a row that is not ready, applying one that is not in flight', () => {
  const sampler = new SequenceSampler(params(scripted([[{ step: 0, positions: [0], remasked: [], needsPass: true }]])), MODEL, SeededRandom.fromSeed(7));
  assert.throws(() => sampler.apply(sampler.peekRow() as PassRow, fakeResult(sampler.peekRow() as PassRow)), /without a row in flight/);
  const row = sampler.takeRow();
  assert.throws(() => sampler.takeRow(), /without a ready row/);
  sampler.apply(row, fakeResult(row));
  assert.ok(sampler.finished);
});
