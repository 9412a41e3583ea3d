/**
 * The project against the seed's own sampling loop, side by side on this CPU: one sample of a
 * synthetic checkpoint of mdlm-owt's exact shape (random weights) with ddpm_cache, at
 * L = 128 and L = 1024, T = 128 steps.
 *
 *  - the seed: bench/seed/seed_loop.py, a PyTorch re-implementation of `Diffusion._sample`
 *    (Debian's python3-torch over OpenBLAS), at each --seed-threads setting TORCH:BLAS
 *    (torch.set_num_threads, and OPENBLAS_NUM_THREADS: Debian's torch does not set OpenBLAS's
 *    threads, which default to every core), timed from the first step to the final argmax, so
 *    its start-up is left out; the ratios are against the fastest of its settings;
 *  - the project: `mdlm generate` on the fp32 and the int8 export, timed from the command
 *    being started to its exit, start-up included, with its --verbose start-up breakdown;
 *    each export is started once untimed first (the first start after an export checks
 *    every weight in full, as a deployment does once).
 *
 * Each figure is the median of --repeat runs; ratios are of those medians, from this one run.
 *
 *   npm run build && node --import tsx bench/cpu-vs-seed.ts [--lengths 128,1024] [--steps 128]
 *     [--dtypes fp32,int8] [--repeat 1] [--seed-threads 1:1,1:2] [--python /usr/bin/python3] [--work DIR]
 *
 * The seed side needs python3 with torch and numpy (apt install python3-torch python3-numpy
 * libopenblas0-pthread); without them it is skipped and only the project's figures print.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SYNTH_PRESETS, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel } from '../src/families/index.js';
import { WEIGHT_DTYPES, type WeightDtype } from '../src/model/index.js';
import { GPT2_TOKENIZER_DIR, intList, machineLine, median } from './support.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'mdlm.js');
const SEED_LOOP = join(import.meta.dirname, 'seed', 'seed_loop.py');


const ArgsSchema = z.object({
  lengths: intList.default([128, 1024]),
  steps: z.coerce.number().int().positive().default(128),
  dtypes: z
    .string()
    .transform((text) => text.split(','))
    .pipe(z.array(z.enum(WEIGHT_DTYPES)).min(1))
    .default(['fp32', 'int8']),
  repeat: z.coerce.number().int().positive().default(1),
  seedThreads: z
    .string()
    .transform((text) => text.split(',').map((pair) => pair.split(':').map(Number)))
    .pipe(z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])).min(1))
    .default([[1, 1], [1, 2]]),
  python: z.string().default(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'),
  work: z.string().optional(),
});
type Args = z.infer<typeof ArgsSchema>;

interface Run {
  what: string;
  length: number;
  seconds: number;
  passes: number;
  /** The project's --verbose start-up lines (first run). */
  startup?: string[];
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      lengths: { type: 'string' },
      steps: { type: 'string' },
      dtypes: { type: 'string' },
      repeat: { type: 'string' },
      'seed-threads': { type: 'string' },
      python: { type: 'string' },
      work: { type: 'string' },
    },
  });
  return ArgsSchema.parse({ ...values, seedThreads: values['seed-threads'] });
}

/** The synthetic owt-shape checkpoint (with GPT-2's tokenizer files beside it) and its exports. */
async function prepareModels(work: string, dtypes: readonly WeightDtype[]): Promise<{ checkpoint: string; exports: Map<WeightDtype, string> }> {
  const checkpoint = join(work, 'checkpoint');
  if (!existsSync(join(checkpoint, 'model.safetensors'))) {
    await synthesizeCheckpoint({ outDir: checkpoint, shape: SYNTH_PRESETS.owt, seed: 1 });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(GPT2_TOKENIZER_DIR, file), join(checkpoint, file));
  }
  const exports = new Map<WeightDtype, string>();
  for (const dtype of dtypes) {
    const outDir = join(work, `export-${dtype}`);
    if (!existsSync(join(outDir, 'manifest.json'))) await exportModel({ checkpointDir: checkpoint, outDir, head: 'positions', dtype });
    exports.set(dtype, outDir);
  }
  return { checkpoint, exports };
}

function generate(exportDir: string, length: number, steps: number, seed: number) {
  return spawnSync(process.execPath, [CLI, 'generate', '--model', exportDir, '--device', 'cpu', '--length', String(length), '--steps', String(steps), '--seed', String(seed), '--json', '--verbose'], { encoding: 'utf8', maxBuffer: 1 << 26 });
}

/**
 * One short untimed generation per export: the first start after an export checks every
 * weight in full and stamps the files (model/load.ts), which later starts skip; this returns
 * that first start-up's line.
 */
function warmUp(exportDir: string): string {
  const child = generate(exportDir, 16, 2, 0);
  if (child.status !== 0) throw new Error(`mdlm generate failed: ${child.stderr}`);
  return child.stderr.split('\n').find((line) => line.startsWith('start-up')) ?? '';
}

function runProject(exportDir: string, dtype: WeightDtype, length: number, steps: number, seed: number): Run {
  const started = performance.now();
  const child = generate(exportDir, length, steps, seed);
  const seconds = (performance.now() - started) / 1000;
  if (child.status !== 0) throw new Error(`mdlm generate failed: ${child.stderr}`);
  const response = JSON.parse(child.stdout) as { stats: { forward_passes: number } };
  const startup = child.stderr.split('\n').filter((line) => line.startsWith('start-up'));
  return { what: `mdlm-serve ${dtype}`, length, seconds, passes: response.stats.forward_passes, startup };
}

function runSeed(args: Args, checkpoint: string, length: number, [threads, blasThreads]: [number, number], seed: number): Run | string {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads) };
  const child = spawnSync(args.python, [SEED_LOOP, '--checkpoint', checkpoint, '--length', String(length), '--steps', String(args.steps), '--threads', String(threads), '--seed', String(seed)], { encoding: 'utf8', env });
  if (child.status !== 0) return `the seed's loop did not run (${args.python}): ${(child.stderr || String(child.error)).trim().split('\n').pop()}`;
  const report = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { seconds: number; passes: number; blas: string[] };
  const blas = report.blas.find((name) => name.includes('openblas')) ?? (report.blas.join(', ') || 'no BLAS library found');
  return { what: `seed (PyTorch ${threads} thread${threads === 1 ? '' : 's'}, ${blas} ${blasThreads})`, length, seconds: report.seconds, passes: report.passes };
}

/** The seed at each thread count (the median of --repeat runs each), or why it did not run. */
function runSeeds(args: Args, checkpoint: string, length: number): Run[] | string {
  const rows: Run[] = [];
  for (const threads of args.seedThreads) {
    const runs: Run[] = [];
    for (let i = 0; i < args.repeat; i++) {
      const run = runSeed(args, checkpoint, length, threads, i);
      if (typeof run === 'string') return run;
      runs.push(run);
    }
    rows.push(summarise(runs));
  }
  return rows;
}

function summarise(runs: Run[]): Run {
  const first = runs[0] as Run;
  return { ...first, seconds: median(runs.map((run) => run.seconds)), passes: median(runs.map((run) => run.passes)) };
}

async function main(): Promise<void> {
  const args = parse();
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('build the CLI first: npm run build');
  const work = args.work ?? mkdtempSync(join(tmpdir(), 'mdlm-cpu-vs-seed-'));
  mkdirSync(work, { recursive: true });
  try {
    const { checkpoint, exports } = await prepareModels(work, args.dtypes);
    console.log(`${machineLine()}\n`);
    console.log(`| L | T | what | forward passes | wall s | s per pass | fastest seed ÷ this |`);
    console.log('| ---: | ---: | --- | ---: | ---: | ---: | ---: |');
    const notes: string[] = [];
    for (const [dtype, exportDir] of exports) notes.push(`${dtype}, its first start (untimed): ${warmUp(exportDir)}`);
    for (const length of args.lengths) {
      const seeds = runSeeds(args, checkpoint, length);
      if (typeof seeds === 'string') notes.push(seeds);
      const rows = typeof seeds === 'string' ? [] : [...seeds];
      const seed = rows.reduce<Run | undefined>((fastest, row) => (fastest === undefined || row.seconds < fastest.seconds ? row : fastest), undefined);
      for (const [dtype, exportDir] of exports) {
        const project = summarise(Array.from({ length: args.repeat }, (_, i) => runProject(exportDir, dtype, length, args.steps, i)));
        rows.push(project);
        notes.push(`L = ${length}, ${dtype}: ${project.startup?.join('; ') ?? ''}`);
      }
      for (const row of rows) {
        const ratio = seed === undefined ? '' : `${(seed.seconds / row.seconds).toFixed(2)}×`;
        console.log(`| ${length} | ${args.steps} | ${row.what} | ${row.passes} | ${row.seconds.toFixed(2)} | ${(row.seconds / row.passes).toFixed(3)} | ${ratio} |`);
      }
    }
    for (const note of notes) console.log(`\n${note}`);
  } finally {
    if (args.work === undefined) rmSync(work, { recursive: true, force: true });
  }
}

await main();
