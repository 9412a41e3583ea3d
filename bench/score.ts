/**
 * Tokens scored per second at owt width (D 768, 12 blocks, V 50258), L = 128 and 1024, on
 * the CPU provider: the server's way (the positions head through the engine: the output layer
 * only at the masked rows, log-probabilities in the graph) against the same work the seed's
 * way (the full logits head, every logit leaving onnxruntime, log-softmax and the gather
 * outside), as a ratio in one run.
 *
 *   node --import tsx bench/score.ts [--lengths 128,1024] [--rows 8]     (≈ 5 minutes)
 *
 * Both sides score the same rows: one NELBO draw each (the seed's ppl_eval), t stratified
 * over the rows, the same masks (the scorers are deterministic, so the baseline replays
 * their rows). The baseline runs its passes on this thread at the worker's thread count,
 * one row per pass as the engine's batches are here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel, readManifest } from '../src/families/index.js';
import { EngineCore } from '../src/generation/index.js';
import { SeededRandom } from '../src/random.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../src/runtime/index.js';
import { Scheduler } from '../src/scheduler/index.js';
import { ElboScorer, drawTimes, subsLoss } from '../src/scoring/index.js';
import { GPT2_TOKENIZER_DIR, machineLine } from './support.js';

const Args = z.object({
  lengths: z.string().default('128,1024').transform((list) => list.split(',').map(Number)),
  rows: z.coerce.number().int().positive().default(8),
});
const args = Args.parse(parseArgs({ options: { lengths: { type: 'string' }, rows: { type: 'string' } } }).values);
const MASK = 50257;
const VOCAB = 50258;

interface Prepared {
  positions: string;
  logits: string;
}

async function exports(work: string, length: number): Promise<Prepared> {
  const checkpoint = join(work, `checkpoint-${length}`);
  await synthesizeCheckpoint({ outDir: checkpoint, shape: { vocab_size: VOCAB, model_length: length, hidden_dim: 768, cond_dim: 128, n_blocks: 12, n_heads: 12, time_conditioning: false }, seed: 1 });
  const positions = join(work, `positions-${length}`);
  const logits = join(work, `logits-${length}`);
  await exportModel({ checkpointDir: checkpoint, outDir: positions, head: 'positions', tokenizerDir: GPT2_TOKENIZER_DIR });
  await exportModel({ checkpointDir: checkpoint, outDir: logits, head: 'logits', tokenizerDir: GPT2_TOKENIZER_DIR });
  rmSync(checkpoint, { recursive: true });
  return { positions, logits };
}

/** One NELBO draw per row of random text, t stratified over the rows (the seed's ppl_eval): a scorer per row. */
function scorers(length: number, count: number): { scorer: ElboScorer; t: number }[] {
  const random = SeededRandom.fromSeed(7);
  const times = drawTimes(count, random, true);
  return Array.from(times, (t, r) => {
    const tokens = Int32Array.from({ length }, () => Math.floor(random.uniform() * 50256));
    return { scorer: new ElboScorer({ tokens, start: 0, end: length }, Float64Array.of(t), SeededRandom.fromSeed(100 + r), { maskId: MASK, timeConditioned: false, loss: subsLoss }), t };
  });
}

async function viaEngine(exportDir: string, length: number, count: number): Promise<{ seconds: number; nll: number }> {
  const manifest = await readManifest(exportDir);
  const runtime = await ForwardRuntime.start({ model: { dir: exportDir, files: manifest.files, dtype: manifest.dtype }, device: 'cpu', providerOptions: ProviderOptionsSchema.parse({}), workers: 1 });
  try {
    const engine = new EngineCore(new Scheduler({ maxBatch: 1, maxBatchEntries: 4096, maxQueue: count, batchWaitMs: 0 }), runtime);
    // A session's first run plans its memory: warm up on a row that is not timed.
    await engine.submit(scorers(length, 1).map(({ scorer }) => scorer)).done;
    const rows = scorers(length, count).map(({ scorer }) => scorer);
    const started = performance.now();
    await engine.submit(rows).done;
    return { seconds: (performance.now() - started) / 1000, nll: rows.reduce((sum, scorer) => sum + scorer.result().nll, 0) };
  } finally {
    await runtime.close();
  }
}

/** The same rows (the scorers are deterministic), each through the logits head: every logit out, log-softmax outside. */
async function viaLogitsHead(exportDir: string, length: number, count: number): Promise<{ seconds: number; nll: number }> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const rows = scorers(length, count).flatMap(({ scorer, t }) => {
    const row = scorer.peekRow();
    return row === undefined ? [] : [{ row, t }];
  });
  await session.run({ input_ids: new ort.Tensor('int64', new BigInt64Array(length), [1, length]) });
  const started = performance.now();
  let nll = 0;
  for (const { row, t } of rows) {
    const ids = BigInt64Array.from(row.tokens, BigInt);
    const logits = (await session.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) })).logits?.data as Float32Array;
    const scores = row.scores as { positions: Int32Array; targets: Int32Array };
    scores.positions.forEach((p, k) => {
      nll -= logSoftmaxAt(logits.subarray(p * VOCAB, (p + 1) * VOCAB), scores.targets[k] as number) / t;
    });
  }
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return { seconds, nll };
}

/** SUBS: the mask's logit is −∞, then log-softmax, read at the target. */
function logSoftmaxAt(logits: Float32Array, target: number): number {
  let peak = -Infinity;
  for (let v = 0; v < logits.length; v++) if (v !== MASK && (logits[v] as number) > peak) peak = logits[v] as number;
  let total = 0;
  for (let v = 0; v < logits.length; v++) if (v !== MASK) total += Math.exp((logits[v] as number) - peak);
  return (logits[target] as number) - peak - Math.log(total);
}

const work = mkdtempSync(join(tmpdir(), 'mdlm-score-bench-'));
try {
  console.log(machineLine());
  console.log(`owt width (D 768, 12 blocks, V 50258), CPU, fp32, ${args.rows} rows per length, one NELBO draw per row (t stratified)\n`);
  console.log('| L | masked per row | positions head: tokens/s | logits head (the seed’s way): tokens/s | ratio | nll agree |');
  console.log('| ---: | ---: | ---: | ---: | ---: | --- |');
  for (const length of args.lengths) {
    const prepared = await exports(work, length);
    const ours = await viaEngine(prepared.positions, length, args.rows);
    const seed = await viaLogitsHead(prepared.logits, length, args.rows);
    const tokens = args.rows * length;
    const masked = scorers(length, args.rows).reduce((sum, { scorer }) => sum + (scorer.peekRow()?.scores?.positions.length ?? 0), 0) / args.rows;
    const agree = Math.abs(ours.nll - seed.nll) <= 1e-4 * Math.abs(seed.nll) ? 'yes' : `no (${ours.nll} vs ${seed.nll})`;
    console.log(`| ${length} | ${masked.toFixed(0)} | ${(tokens / ours.seconds).toFixed(0)} | ${(tokens / seed.seconds).toFixed(0)} | ${(seed.seconds / ours.seconds).toFixed(2)}× | ${agree} |`);
    rmSync(prepared.positions, { recursive: true });
    rmSync(prepared.logits, { recursive: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
