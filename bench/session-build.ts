/**
 * What building a CPU session of an export costs, and what each part of it is: the server's
 * way (model.onnx's bytes, the data file mapped, the products' weights packed and the embedding
 * folded into a copy by onnxruntime) at each graph optimisation level (`disabled` skips the
 * constant folding, so it leaves the embedding in the mapping), the same with packing turned
 * off (which would leave the session computing from the mapping), and the data file read and
 * passed in memory instead. Each variant runs in a fresh process, --repeat times; medians in ms.
 *
 *   node --import tsx bench/session-build.ts --export DIR [--repeat 3] [--threads 2]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { DATA_FILE, MODEL_FILE } from '../src/model/manifest.js';
import { machineLine, median } from './support.js';

const VARIANTS = {
  'mapped, packed, optimisation all (the server)': { level: 'all', packing: true, inMemory: false },
  'mapped, packed, optimisation basic': { level: 'basic', packing: true, inMemory: false },
  'mapped, packed, optimisation disabled': { level: 'disabled', packing: true, inMemory: false },
  'mapped, packing disabled': { level: 'all', packing: false, inMemory: false },
  'data file read and passed in memory': { level: 'all', packing: true, inMemory: true },
} as const;
type VariantName = keyof typeof VARIANTS;

const Args = z.object({
  export: z.string().min(1),
  repeat: z.coerce.number().int().positive().default(3),
  threads: z.coerce.number().int().positive().default(2),
  variant: z.enum(Object.keys(VARIANTS) as [VariantName, ...VariantName[]]).optional(),
});
type Args = z.infer<typeof Args>;

/** One session build in this process: the milliseconds to read the data file (in memory only) and to build. */
async function buildOnce(args: Args, name: VariantName): Promise<{ readMs: number; sessionMs: number }> {
  const variant = VARIANTS[name];
  const model = readFileSync(join(args.export, MODEL_FILE));
  const readStarted = performance.now();
  const data = variant.inMemory ? readFileSync(join(args.export, DATA_FILE)) : undefined;
  const readMs = performance.now() - readStarted;
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: variant.level,
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    ...(data === undefined
      ? { extra: { session: { model_external_initializers_file_folder_path: args.export, ...(variant.packing ? {} : { disable_prepacking: '1' }) } } }
      : { externalData: [{ path: DATA_FILE, data }] }),
  };
  const started = performance.now();
  const session = await ort.InferenceSession.create(model, options);
  const sessionMs = performance.now() - started;
  await session.release();
  return { readMs, sessionMs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { export: { type: 'string' }, repeat: { type: 'string' }, threads: { type: 'string' }, variant: { type: 'string' } } });
  const args = Args.parse(values);
  if (args.variant !== undefined) {
    process.stdout.write(`${JSON.stringify(await buildOnce(args, args.variant))}\n`);
    return;
  }
  console.log(machineLine());
  console.log(`${args.export}, ${args.threads} threads, median of ${args.repeat} fresh processes\n`);
  console.log('| variant | read data ms | build session ms |\n| --- | ---: | ---: |');
  for (const name of Object.keys(VARIANTS) as VariantName[]) {
    const runs = Array.from({ length: args.repeat }, () => {
      const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--export', args.export, '--threads', String(args.threads), '--variant', name], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`);
      return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { readMs: number; sessionMs: number };
    });
    const read = VARIANTS[name].inMemory ? median(runs.map((run) => run.readMs)).toFixed(0) : '–';
    console.log(`| ${name} | ${read} | ${median(runs.map((run) => run.sessionMs)).toFixed(0)} |`);
  }
}

await main();
