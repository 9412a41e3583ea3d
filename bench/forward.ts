/**
 * Times one forward pass of exported models (MDLM or GPT-2) on one execution provider, against a
 * plain large MatMul through onnxruntime on the same provider (what the machine reaches at all),
 * and prints tokens/s and achieved GFLOP/s with the FLOP count of spec §6.
 *
 *   node --import tsx bench/forward.ts --export DIR [--export DIR ...] [--device cpu|cuda|webgpu]
 *     [--batch 1,8,32] [--length 64,128,256,1024] [--positions 1] [--repeat 3] [--matmul-size 2048]
 *     [--profile] [--json FILE]
 *
 * --profile runs each shape once more under onnxruntime's profiler and prints where the pass
 * went, per operator type (kernel time summed over the pass's nodes).
 * --positions is K, the rows per sequence the positions head runs the output layer on (the
 * positions unmasking at a step: ~1.6 on average at L = 1024, T = 1000; L − 1 for a GPT-2
 * scoring a whole chunk). --json appends one JSON object per measurement to FILE
 * (bench/gpu/summary.ts reads them).
 */
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { packFeeds } from '../src/runtime/feeds.js';
import type { PassRow } from '../src/runtime/index.js';
import { z } from 'zod';
import { type AnyExportManifest, readAnyManifest } from '../src/families/index.js';
import { GraphBuilder } from '../src/model/graph-builder.js';
import { MODEL_FILE } from '../src/model/manifest.js';
import { DEVICES, type ExecutionProvider, ProviderOptionsSchema, executionProviderConfig, probeProviderEnvironment, selectProvider } from '../src/runtime/providers.js';
import { intList, machineLine, median } from './support.js';


const ArgsSchema = z.object({
  export: z.array(z.string().min(1)).min(1),
  device: z.enum(DEVICES).exclude(['auto']).default('cpu'),
  batch: intList.default([1]),
  length: intList.optional(),
  positions: z.coerce.number().int().positive().default(1),
  repeat: z.coerce.number().int().positive().default(3),
  /** 0 leaves the reference MatMul out (a second call on the same device). */
  matmulSize: z.coerce.number().int().nonnegative().default(2048),
  json: z.string().optional(),
  profile: z.boolean().default(false),
});
type Args = z.infer<typeof ArgsSchema>;

export interface ForwardMeasurement {
  kind: 'forward';
  device: ExecutionProvider;
  architecture: AnyExportManifest['architecture'];
  head: AnyExportManifest['head'];
  dtype: AnyExportManifest['dtype'];
  fused: boolean;
  batch: number;
  length: number;
  /** Rows the output layer runs on, per sequence. */
  outputRows: number;
  ms: number;
  gflop: number;
}

/** A provider that could not be had, with onnxruntime's reason as selectProvider explains it. */
export interface Skipped {
  kind: 'skip';
  what: string;
  reason: string;
}

export interface MatmulMeasurement {
  kind: 'matmul';
  device: ExecutionProvider;
  dtype: 'fp32' | 'fp16';
  size: number;
  ms: number;
  gflop: number;
}

/** What the FLOP count and the feeds need to know about a network, whatever its architecture. */
interface NetworkShape {
  hiddenDim: number;
  blocks: number;
  /** MLP width. */
  innerDim: number;
  vocabSize: number;
  contextLength: number;
  timeConditioned: boolean;
}

function networkShape(manifest: AnyExportManifest): NetworkShape {
  if (manifest.architecture === 'gpt2') {
    const { n_embd: D, n_layer, n_inner, vocab_size, n_positions } = manifest.config;
    return { hiddenDim: D, blocks: n_layer, innerDim: n_inner ?? 4 * D, vocabSize: vocab_size, contextLength: n_positions, timeConditioned: false };
  }
  const { hidden_dim: D, n_blocks, vocab_size, model_length, time_conditioning } = manifest.config;
  return { hiddenDim: D, blocks: n_blocks, innerDim: 4 * D, vocabSize: vocab_size, contextLength: model_length, timeConditioned: time_conditioning };
}

/**
 * FLOPs of one forward pass (spec §6, 2 per multiply-add): per token and block 4·D² for the
 * attention projections (qkv 3D², out D²) and 2·D·inner for the MLP (12·D² at inner = 4D),
 * attention 2·L²·D per block and sequence (counted in full for GPT-2 too: the causal kernels
 * compute the whole score matrix and mask it), and the output layer V·D per row it runs on
 * (every position for the logits head, K for the positions head).
 */
function forwardFlops(shape: NetworkShape, batch: number, length: number, outputRows: number): number {
  const D = shape.hiddenDim;
  const blocks = batch * length * shape.blocks * (4 * D * D + 2 * D * shape.innerDim);
  const attention = batch * shape.blocks * 2 * length * length * D;
  const output = batch * outputRows * shape.vocabSize * D;
  return 2 * (blocks + attention + output);
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      export: { type: 'string', multiple: true },
      device: { type: 'string' },
      batch: { type: 'string' },
      length: { type: 'string' },
      positions: { type: 'string' },
      repeat: { type: 'string' },
      'matmul-size': { type: 'string' },
      json: { type: 'string' },
      profile: { type: 'boolean' },
    },
  });
  return ArgsSchema.parse({ ...values, matmulSize: values['matmul-size'] });
}

/** A session on exactly `device`, or why it cannot be had. */
async function openSession(label: string, modelPath: string, device: ExecutionProvider, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession | Skipped> {
  const environment = probeProviderEnvironment(ort.listSupportedBackends());
  const providerOptions = ProviderOptionsSchema.parse({});
  try {
    const { session } = await selectProvider(device, environment, (provider) =>
      ort.InferenceSession.create(modelPath, {
        executionProviders: [executionProviderConfig(provider, providerOptions) as ort.InferenceSession.ExecutionProviderConfig],
        graphOptimizationLevel: 'all',
        ...options,
      }),
    );
    return session;
  } catch (error) {
    return { kind: 'skip', what: `${label} on ${device}`, reason: (error as Error).message };
  }
}

/** Median wall time of `run` after one untimed warm-up (GPU providers compile kernels on the first run). */
async function medianMs(repeat: number, run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

/** `batch` rows of `length` tokens, each drawing at `positions` spread-out positions (what a sampler's pass asks). */
function forwardFeeds(manifest: AnyExportManifest, batch: number, length: number, positions: number): Record<string, ort.Tensor> {
  const { vocabSize: vocabulary, timeConditioned } = networkShape(manifest);
  if (manifest.head === 'logits') {
    const ids = BigInt64Array.from({ length: batch * length }, (_, i) => BigInt((i * 7919) % vocabulary));
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [batch, length]) };
    if (timeConditioned) feeds.sigma = new ort.Tensor('float32', new Float32Array(batch), [batch]);
    return feeds;
  }
  const stride = Math.max(1, Math.floor(length / positions));
  const rows: PassRow[] = Array.from({ length: batch }, (_, row) => ({
    tokens: Int32Array.from({ length }, (_, i) => ((row * length + i) * 7919) % vocabulary),
    sigma: 0,
    draws: { positions: Int32Array.from({ length: positions }, (_, k) => (k * stride) % length), uniforms: new Float64Array(positions).fill(0.5), temperature: 1, topP: 1, topK: 0 },
  }));
  const { feeds } = packFeeds(rows, timeConditioned);
  return Object.fromEntries(Object.entries(feeds).map(([name, feed]) => [name, new ort.Tensor(feed.type, feed.data, feed.dims)]));
}

async function benchExport(exportDir: string, args: Args): Promise<(ForwardMeasurement | Skipped)[]> {
  const manifest = await readAnyManifest(exportDir);
  const shape = networkShape(manifest);
  const session = await openSession(`${basename(exportDir)} (${manifest.architecture}, ${manifest.head} head, ${manifest.dtype})`, join(exportDir, MODEL_FILE), args.device);
  if ('kind' in session) return [session];
  const measurements: ForwardMeasurement[] = [];
  try {
    for (const length of args.length ?? [shape.contextLength]) {
      for (const batch of args.batch) {
        const outputRows = manifest.head === 'logits' ? length : args.positions;
        const feeds = forwardFeeds(manifest, batch, length, args.positions);
        const ms = await medianMs(args.repeat, () => session.run(feeds));
        const { architecture, head, dtype, fused } = manifest;
        measurements.push({ kind: 'forward', device: args.device, architecture, head, dtype, fused, batch, length, outputRows, ms, gflop: forwardFlops(shape, batch, length, outputRows) / 1e9 });
        if (args.profile) await printProfile(`${basename(exportDir)} B ${batch} L ${length}`, exportDir, args, feeds);
      }
    }
  } finally {
    await session.release();
  }
  return measurements;
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** One pass (after a warm-up) under onnxruntime's profiler, summed per operator type. */
async function printProfile(label: string, exportDir: string, args: Args, feeds: Record<string, ort.Tensor>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdlm-profile-'));
  try {
    const session = await openSession(label, join(exportDir, MODEL_FILE), args.device, { enableProfiling: true, profileFilePrefix: join(dir, 'pass') });
    if ('kind' in session) return;
    await session.run(feeds);
    await session.run(feeds);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((name) => name.endsWith('.json'));
    const events = JSON.parse(readFileSync(join(dir, file ?? ''), 'utf8')) as ProfileEvent[];
    const runs = events.filter((event) => event.cat === 'Session' && event.name === 'model_run');
    const lastRun = runs[runs.length - 1];
    const kernels = events.filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time') && lastRun !== undefined && (event as unknown as { ts: number }).ts >= (lastRun as unknown as { ts: number }).ts);
    const byOp = new Map<string, number>();
    for (const kernel of kernels) byOp.set(kernel.args?.op_name ?? '?', (byOp.get(kernel.args?.op_name ?? '?') ?? 0) + kernel.dur);
    const total = [...byOp.values()].reduce((a, b) => a + b, 0);
    console.log(`\nprofile, ${label}: ${(total / 1000).toFixed(1)} ms in kernels of a ${((lastRun?.dur ?? 0) / 1000).toFixed(1)} ms run`);
    for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${op.padEnd(28)} ${(us / 1000).toFixed(2).padStart(8)} ms  ${((100 * us) / total).toFixed(1).padStart(5)}%`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A model that multiplies two constant size×size matrices; only one element leaves the device. */
function writeMatmulModel(dir: string, dtype: 'fp32' | 'fp16', size: number): string {
  const path = join(dir, `matmul-${dtype}.onnx`);
  const builder = new GraphBuilder(path, `${path}.data`, `matmul-${dtype}.onnx.data`);
  const type = dtype === 'fp16' ? 'float16' : 'float';
  const values = () => Float32Array.from({ length: size * size }, (_, i) => ((i * 7919) % 1009) / 1009 - 0.5);
  const product = builder.op('MatMul', [builder.initializer('a', type, [size, size], values()), builder.initializer('b', type, [size, size], values())]);
  const corner = builder.int64s('corner', [0, 0]);
  builder.node('Slice', [product, corner, builder.int64s('one', [1, 1])], { outputs: ['corner'] });
  builder.output('corner', type, [1, 1]);
  builder.finish({ '': 20 }, 'bench');
  return path;
}

async function benchMatmul(args: Args): Promise<(MatmulMeasurement | Skipped)[]> {
  if (args.matmulSize === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'mdlm-matmul-'));
  const measurements: (MatmulMeasurement | Skipped)[] = [];
  try {
    for (const dtype of ['fp32', 'fp16'] as const) {
      // Optimisations off: constant folding would otherwise compute the product at load time.
      const session = await openSession(`MatMul ${args.matmulSize}³ ${dtype}`, writeMatmulModel(dir, dtype, args.matmulSize), args.device, { graphOptimizationLevel: 'disabled' });
      if ('kind' in session) {
        measurements.push(session);
        continue;
      }
      const ms = await medianMs(args.repeat, () => session.run({}));
      await session.release();
      measurements.push({ kind: 'matmul', device: args.device, dtype, size: args.matmulSize, ms, gflop: (2 * args.matmulSize ** 3) / 1e9 });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return measurements;
}

function printTable(results: (MatmulMeasurement | ForwardMeasurement | Skipped)[]): void {
  const matmuls = results.filter((result): result is MatmulMeasurement => result.kind === 'matmul');
  const forwards = results.filter((result): result is ForwardMeasurement => result.kind === 'forward');
  for (const skipped of results.filter((result): result is Skipped => result.kind === 'skip')) console.log(`skipped ${skipped.what}: ${skipped.reason}`);
  const reference = new Map(matmuls.map((m) => [m.dtype, m.gflop / (m.ms / 1000)]));
  console.log(`\n${machineLine()}`);
  console.log('\n| what | device | dtype | B | L | output rows | ms | tokens/s | GFLOP | GFLOP/s | of the MatMul reference |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of matmuls) {
    console.log(`| MatMul ${m.size}³ | ${m.device} | ${m.dtype} | | | | ${m.ms.toFixed(1)} | | ${m.gflop.toFixed(1)} | ${(m.gflop / (m.ms / 1000)).toFixed(0)} | 100% |`);
  }
  for (const f of forwards) {
    const rate = f.gflop / (f.ms / 1000);
    const share = reference.get(f.dtype === 'int8' ? 'fp32' : f.dtype);
    const head = `${f.architecture} ${f.head} head${f.fused ? '' : ', standard ops'}`;
    const tokensPerSecond = (f.batch * f.length) / (f.ms / 1000);
    console.log(`| ${head} | ${f.device} | ${f.dtype} | ${f.batch} | ${f.length} | ${f.outputRows} | ${f.ms.toFixed(1)} | ${tokensPerSecond.toFixed(0)} | ${f.gflop.toFixed(1)} | ${rate.toFixed(0)} | ${share === undefined ? '' : `${((100 * rate) / share).toFixed(0)}%`} |`);
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const results: (MatmulMeasurement | ForwardMeasurement | Skipped)[] = await benchMatmul(args);
  for (const exportDir of args.export) results.push(...(await benchExport(exportDir, args)));
  printTable(results);
  if (args.json !== undefined) for (const result of results) appendFileSync(args.json, `${JSON.stringify(result)}\n`);
}

await main();
