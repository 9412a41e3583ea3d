/**
 * The seed's two sampling tables, rerun on the machine at hand (spec §4 and §5):
 * (a) wall clock of unconditional samples, batch size 1, per sampler and step count;
 * (b) semi-autoregressive generation past the window: seconds per sequence and the gen PPL
 *     of the sequences under the evaluation model.
 * Generation goes through a SampleGenerator: the public GenerationService here, or a running
 * server; the scale is explicit data, so that a test can run the whole thing in seconds.
 */
import { join } from 'node:path';
import { synthesizeCheckpoint } from '../checkpoint/index.js';
import { type MdlmClient, mapConcurrently } from '../client/index.js';
import { exportModel, synthesizeGpt2Checkpoint } from '../families/index.js';
import type { GenerationService } from '../generation/index.js';
import { SAMPLERS, type SamplerName } from '../sampling/index.js';
import type { MdlmTokenizer } from '../tokenizer/index.js';
import type { CausalScorer } from './causal-scorer.js';
import { evaluateGenPpl } from './evaluate.js';

export interface WallClockScale {
  samples: number;
  /** Window length L. */
  length: number;
  steps: number[];
}

export interface SemiArScale {
  sequences: number;
  length: number;
  strideLength: number;
  numStrides: number;
  /** Steps per round. */
  steps: number;
}

export interface SeedTablesScale {
  wallClock: WallClockScale;
  semiAr: SemiArScale;
}

/** `full` is the seed's own settings (for GPUs); `small` runs on a CPU in minutes. */
export const SEED_TABLE_SCALES = {
  full: {
    wallClock: { samples: 64, length: 1024, steps: [5000, 10_000] },
    semiAr: { sequences: 200, length: 1024, strideLength: 512, numStrides: 2, steps: 1000 },
  },
  small: {
    wallClock: { samples: 2, length: 128, steps: [500, 1000] },
    semiAr: { sequences: 2, length: 128, strideLength: 64, numStrides: 2, steps: 100 },
  },
} as const satisfies Record<string, SeedTablesScale>;

export type SeedTablesScaleName = keyof typeof SEED_TABLE_SCALES;

/**
 * The seed's wall-clock table (64 samples, batch size 1, L = 1024, one A5000), seconds per
 * sample at T = 5000 and 10 000. One entry per sampler. The seed's analytic row is SEDD's
 * network with SEDD's analytic sampler, which it runs here too when a SEDD model is given;
 * without one, the analytic predictor runs on the MDLM network, the same passes (T + 1) of the
 * same shape, so the figures compare as costs.
 */
const SEED_WALL_CLOCK: { sampler: string; label: string; seconds: readonly number[] }[] = [
  { sampler: 'analytic', label: 'MDLM + analytic (seed: SEDD + analytic)', seconds: [127.1, 229.3] },
  { sampler: 'ddpm', label: 'MDLM + ddpm', seconds: [113.8, 206.6] },
  { sampler: 'ddpm_cache', label: 'MDLM + ddpm_cache', seconds: [40.1, 60.4] },
];
const SEED_WALL_CLOCK_STEPS = [5000, 10_000];

/** The seed's semi-AR row: 200 sequences of 2048 tokens, one RTX 3090, GPT-2 large. */
export const SEED_SEMI_AR = { sampler: 'ddpm_cache' as SamplerName, secondsPerSequence: 89.3, genPpl: 27.18, tokens: 2048, sequences: 200 };

export interface WallClockRow {
  sampler: SamplerName;
  /** The network it ran on: SEDD for the analytic row when a SEDD model was given. */
  model: 'MDLM' | 'SEDD';
  steps: number;
  samples: number;
  totalSeconds: number;
  secondsPerSample: number;
  meanForwardPasses: number;
  /** The published figure at the seed's step count of the same rank (5000, then 10 000). */
  seed?: { label: string; steps: number; secondsPerSample: number };
}

export interface SemiArRow {
  sequences: number;
  tokensPerSequence: number;
  secondsPerSequence: number;
  meanForwardPasses: number;
  genPpl: number;
  tokensCounted: number;
  meanUnigramEntropy: number;
  seed: { sequences: number; tokens: number; secondsPerSequence: number; genPpl: number };
}

export interface SeedTablesResult {
  scale: SeedTablesScale;
  wallClock: WallClockRow[];
  /** ddpm ÷ ddpm_cache seconds per step count, ours and the seed's. */
  ratios: { steps: number; ours: number; seed?: number }[];
  semiAr: SemiArRow;
}

export interface SeedTablesRun {
  scale: SeedTablesScale;
  /** The MDLM model, opened for generation; closed before the evaluation model is opened. */
  openGenerator: () => Promise<SampleGenerator>;
  /** A SEDD model for the analytic row, as the seed's table ran it (opened for that row alone). */
  openSedd?: () => Promise<SampleGenerator>;
  /** Samples generated at once (default 1: one at a time, as the seed's tables; more time each under that load). */
  concurrency?: number;
  openScorer: () => Promise<{ scorer: CausalScorer; tokenizer: MdlmTokenizer }>;
  evalBatchSize: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

export async function runSeedTables(run: SeedTablesRun): Promise<SeedTablesResult> {
  const generator = await run.openGenerator();
  let wallClock: WallClockRow[];
  let generated: Generated;
  try {
    wallClock = await wallClockTable(generator, run);
    generated = await semiArSequences(generator, run);
  } finally {
    await generator.close();
  }
  return { scale: run.scale, wallClock, ratios: ratios(wallClock), semiAr: await semiArRow(generated, run) };
}

/** The sampler rows of the seed's table that this build has. */
function wallClockSamplers(): (typeof SEED_WALL_CLOCK)[number][] {
  return SEED_WALL_CLOCK.filter((row) => (SAMPLERS as readonly string[]).includes(row.sampler));
}

async function wallClockTable(generator: SampleGenerator, run: SeedTablesRun): Promise<WallClockRow[]> {
  const rows: WallClockRow[] = [];
  for (const published of wallClockSamplers()) {
    if (published.sampler === 'analytic' && run.openSedd !== undefined) {
      const sedd = await run.openSedd();
      try {
        rows.push(...(await samplerRows(sedd, { ...published, label: 'SEDD + analytic' }, 'SEDD', run)));
      } finally {
        await sedd.close();
      }
    } else {
      rows.push(...(await samplerRows(generator, published, 'MDLM', run)));
    }
  }
  return rows;
}

/** One sampler's rows of table (a), one per step count, on `generator`. */
async function samplerRows(generator: SampleGenerator, published: (typeof SEED_WALL_CLOCK)[number], model: WallClockRow['model'], run: SeedTablesRun): Promise<WallClockRow[]> {
  const { samples, length, steps: stepCounts } = run.scale.wallClock;
  const sampler = published.sampler as SamplerName;
  const rows: WallClockRow[] = [];
  for (const [rank, steps] of stepCounts.entries()) {
    let done = 0;
    const timed = await mapConcurrently(seeds(samples), run.concurrency ?? 1, async (seed) => {
      const sample = await generator.sample({ length, steps, sampler, seed });
      run.onProgress?.(`${model} ${sampler} T=${steps}`, ++done, samples);
      return sample;
    });
    const seconds = timed.reduce((sum, sample) => sum + sample.seconds, 0);
    const passes = timed.reduce((sum, sample) => sum + sample.forwardPasses, 0);
    const seedSeconds = published.seconds[rank];
    const seedSteps = SEED_WALL_CLOCK_STEPS[rank];
    rows.push({
      sampler,
      model,
      steps,
      samples,
      totalSeconds: seconds,
      secondsPerSample: seconds / samples,
      meanForwardPasses: passes / samples,
      seed: seedSeconds === undefined || seedSteps === undefined ? undefined : { label: published.label, steps: seedSteps, secondsPerSample: seedSeconds },
    });
  }
  return rows;
}

function ratios(rows: readonly WallClockRow[]): SeedTablesResult['ratios'] {
  const find = (sampler: string, steps: number) => rows.find((row) => row.sampler === sampler && row.steps === steps);
  return rows
    .filter((row) => row.sampler === 'ddpm')
    .flatMap((ddpm) => {
      const cached = find('ddpm_cache', ddpm.steps);
      if (cached === undefined) return [];
      const seed = ddpm.seed !== undefined && cached.seed !== undefined ? ddpm.seed.secondsPerSample / cached.seed.secondsPerSample : undefined;
      return [{ steps: ddpm.steps, ours: ddpm.secondsPerSample / cached.secondsPerSample, seed }];
    });
}

interface Generated {
  samples: { index: number; text: string; tokenIds: number[] }[];
  seconds: number;
  forwardPasses: number;
}

async function semiArSequences(generator: SampleGenerator, run: SeedTablesRun): Promise<Generated> {
  const { sequences, length, strideLength, numStrides, steps } = run.scale.semiAr;
  let done = 0;
  const timed = await mapConcurrently(seeds(sequences), run.concurrency ?? 1, async (seed) => {
    const sample = await generator.sample({ length, steps, sampler: SEED_SEMI_AR.sampler, seed, semiAr: { strideLength, numStrides } });
    run.onProgress?.('semi-AR', ++done, sequences);
    return sample;
  });
  return {
    samples: timed.map((sample, index) => ({ index, text: sample.text, tokenIds: sample.tokenIds })),
    seconds: timed.reduce((sum, sample) => sum + sample.seconds, 0),
    forwardPasses: timed.reduce((sum, sample) => sum + sample.forwardPasses, 0),
  };
}

/** Sample i is seeded i, in both tables. */
function seeds(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

async function semiArRow(generated: Generated, run: SeedTablesRun): Promise<SemiArRow> {
  const { scorer, tokenizer } = await run.openScorer();
  try {
    const report = await evaluateGenPpl(generated.samples, scorer, tokenizer, {
      batchSize: run.evalBatchSize,
      cleanUpSpaces: true,
      onProgress: (done, total) => run.onProgress?.('gen PPL', done, total),
    });
    const sequences = generated.samples.length;
    return {
      sequences,
      tokensPerSequence: report.maxLength,
      secondsPerSequence: generated.seconds / sequences,
      meanForwardPasses: generated.forwardPasses / sequences,
      genPpl: report.genPpl,
      tokensCounted: report.tokensCounted,
      meanUnigramEntropy: report.meanUnigramEntropy,
      seed: { sequences: SEED_SEMI_AR.sequences, tokens: SEED_SEMI_AR.tokens, secondsPerSequence: SEED_SEMI_AR.secondsPerSequence, genPpl: SEED_SEMI_AR.genPpl },
    };
  } finally {
    await scorer.close();
  }
}

export interface GenerateSpec {
  length: number;
  steps: number;
  sampler: SamplerName;
  seed: number;
  semiAr?: { strideLength: number; numStrides: number };
}

/** One sample as the tables time it: its ids and text, its passes, and the seconds its generation took. */
export interface TimedSample {
  seconds: number;
  forwardPasses: number;
  tokenIds: number[];
  text: string;
}

/** What generates the tables' samples, one request of one sample each. */
export interface SampleGenerator {
  sample(spec: GenerateSpec): Promise<TimedSample>;
  close(): Promise<void>;
}

/** Samples from a loaded model, timed around the service call. */
export function serviceGenerator(service: GenerationService): SampleGenerator {
  return {
    async sample(spec) {
      const prepared = service.prepare({ ...spec, numSamples: 1 });
      const started = performance.now();
      const result = await service.generate(prepared);
      const seconds = (performance.now() - started) / 1000;
      const tokenIds = result.samples[0]?.tokenIds ?? [];
      return { seconds, forwardPasses: result.samples[0]?.forwardPasses ?? 0, tokenIds, text: service.decode(tokenIds) };
    },
    close: () => service.close(),
  };
}

/** Samples from a running server (/v1/generate), timed around the request as its client sees it. */
export function serverGenerator(client: MdlmClient): SampleGenerator {
  return {
    async sample({ length, steps, sampler, seed, semiAr }) {
      const semi = semiAr === undefined ? {} : { semi_ar: { stride_length: semiAr.strideLength, num_strides: semiAr.numStrides } };
      const started = performance.now();
      const result = await client.generate({ length, steps, sampler, seed, num_samples: 1, ...semi });
      const seconds = (performance.now() - started) / 1000;
      const sample = result.samples[0];
      return { seconds, forwardPasses: sample?.forward_passes ?? 0, tokenIds: sample?.token_ids ?? [], text: sample?.text ?? '' };
    },
    close: async () => undefined,
  };
}

/**
 * A synthetic MDLM and a synthetic GPT-2 that reads its text, for a run without real weights:
 * both have the same word-level vocabulary (the GPT-2 export ships the MDLM's tokenizer), the
 * MDLM's length is `length`, and GPT-2's context is `length` too, so that a semi-AR sequence
 * spans several chunks as the seed's 2048 tokens span two of GPT-2's 1024.
 */
export async function syntheticModels(workDir: string, length: number): Promise<{ mdlm: string; gpt2: string }> {
  const vocabSize = 1000;
  const mdlmCheckpoint = join(workDir, 'mdlm-checkpoint');
  await synthesizeCheckpoint({ outDir: mdlmCheckpoint, shape: { vocab_size: vocabSize, model_length: length, hidden_dim: 128, cond_dim: 32, n_blocks: 2, n_heads: 2, time_conditioning: false }, seed: 1 });
  const gpt2Checkpoint = join(workDir, 'gpt2-checkpoint');
  await synthesizeGpt2Checkpoint({ outDir: gpt2Checkpoint, shape: { vocab_size: vocabSize, n_positions: length, n_embd: 128, n_layer: 2, n_head: 2 }, seed: 2 });
  const mdlm = join(workDir, 'mdlm');
  const gpt2 = join(workDir, 'gpt2');
  await exportModel({ checkpointDir: mdlmCheckpoint, outDir: mdlm, head: 'positions' });
  await exportModel({ checkpointDir: gpt2Checkpoint, outDir: gpt2, head: 'positions', tokenizerDir: mdlmCheckpoint });
  return { mdlm, gpt2 };
}
