/**
 * How an embedding table of mdlm-owt's size (50 258 × 768 fp32, 154 MB) gets into a CPU
 * session, on its own in a one-Gather graph:
 *  - inline in model.onnx: read by us, then copied out of the protobuf by onnxruntime;
 *  - in the data file, folded through Add(table, 0) (what the export does: constant folding
 *    computes one copy the session owns while it is built);
 *  - in the data file, read directly: nothing copied, served from the file mapping.
 * Each variant runs in a fresh process, --repeat times (medians in ms); then its data file is
 * truncated and the session run again, which says whether it owns the table (a session that
 * reads the mapping dies of SIGBUS).
 *
 *   node --import tsx bench/embedding-table.ts [--repeat 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { GraphBuilder } from '../src/model/graph-builder.js';
import { OPSETS } from '../src/model/manifest.js';
import { machineLine, median } from './support.js';

const VOCAB = 50_258;
const WIDTH = 768;
const ROWS = 128;
const VARIANTS = ['inline', 'folded', 'mapped'] as const;
type Variant = (typeof VARIANTS)[number];

const Args = z.object({
  repeat: z.coerce.number().int().positive().default(3),
  variant: z.enum(VARIANTS).optional(),
  dir: z.string().optional(),
});

function buildModel(dir: string, variant: Variant): void {
  const path = join(dir, 'model.onnx');
  const b = new GraphBuilder(path, `${path}.data`, 'model.onnx.data');
  const table = Float32Array.from({ length: VOCAB * WIDTH }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const ids = b.input('ids', 'int64', [1, ROWS]);
  const stored = b.initializer('table', 'float', [VOCAB, WIDTH], table, variant === 'inline' ? 'inline' : 'data-file');
  const read = variant === 'folded' ? b.op('Add', [stored, b.floats('zero', [0], [])]) : stored;
  b.node('Gather', [read, ids], { outputs: ['y'], attributes: { axis: 0 } });
  b.output('y', 'float', [1, ROWS, WIDTH]);
  b.finish(OPSETS, 'bench');
}

/** In a fresh process: read model.onnx, build the session, run; truncate the data file, run again. */
async function buildOnce(dir: string): Promise<void> {
  const started = performance.now();
  const model = readFileSync(join(dir, 'model.onnx'));
  const readMs = performance.now() - started;
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, interOpNumThreads: 1, extra: { session: { model_external_initializers_file_folder_path: dir } } });
  const sessionMs = performance.now() - started - readMs;
  const feeds = { ids: new ort.Tensor('int64', BigInt64Array.from({ length: ROWS }, (_, i) => BigInt((i * 389) % VOCAB)), [1, ROWS]) };
  const before = (await session.run(feeds)).y?.data as Float32Array;
  process.stdout.write(`${JSON.stringify({ readMs, sessionMs })}\n`);
  truncateSync(join(dir, 'model.onnx.data'), 0);
  const after = (await session.run(feeds)).y?.data as Float32Array;
  process.stdout.write(`${JSON.stringify({ owned: after.every((value, i) => value === before[i]) })}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeat: { type: 'string' }, variant: { type: 'string' }, dir: { type: 'string' } } });
  const args = Args.parse(values);
  if (args.dir !== undefined) return buildOnce(args.dir);
  console.log(machineLine());
  console.log(`a ${VOCAB} × ${WIDTH} fp32 table, ${ROWS} rows gathered, median of ${args.repeat} fresh processes\n`);
  console.log('| table | read model.onnx ms | build session ms | total ms | owned (runs after the data file is truncated) |\n| --- | ---: | ---: | ---: | --- |');
  for (const variant of VARIANTS) {
    const runs: { readMs: number; sessionMs: number }[] = [];
    let owned = 'yes';
    for (let i = 0; i < args.repeat; i++) {
      const dir = mkdtempSync(join(tmpdir(), `mdlm-embedding-${variant}-`));
      try {
        buildModel(dir, variant);
        const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--dir', dir], { encoding: 'utf8' });
        const lines = child.stdout.trim().split('\n').filter((line) => line.startsWith('{'));
        if (lines[0] === undefined) throw new Error(`${variant}: ${child.stderr}`);
        runs.push(JSON.parse(lines[0]) as { readMs: number; sessionMs: number });
        const after = lines[1] === undefined ? undefined : (JSON.parse(lines[1]) as { owned: boolean });
        if (after === undefined) owned = `no: the run after truncating died (${child.signal ?? `exit ${child.status}`})`;
        else if (!after.owned) owned = 'no: the run after truncating answered differently';
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const [read, build] = [median(runs.map((run) => run.readMs)), median(runs.map((run) => run.sessionMs))];
    console.log(`| ${variant} | ${read.toFixed(0)} | ${build.toFixed(0)} | ${(read + build).toFixed(0)} | ${owned} |`);
  }
}

await main();
