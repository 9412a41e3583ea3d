/**
 * What --dtype int8 costs in fidelity, against the fp32 export of the same checkpoint:
 *  1. logits: the error relative to the logits' spread (rms and max), at inputs with a share
 *     of the positions masked, as the samplers see them;
 *  2. p_x0: the KL divergence KL(p_fp32 ‖ p_int8) of the SUBS distribution at masked
 *     positions, and how often both pick the same most likely token;
 *  3. likelihood: the NELBO of a fixed corpus (bench/data/fidelity-corpus.txt, one document
 *     per line), fp32 and int8 with the same seed, so both see the same times and masks and
 *     their difference is measured paired.
 *
 *   node --import tsx bench/int8-fidelity.ts [--checkpoint DIR] [--length 256] [--sequences 4] [--mc-samples 32]
 *
 * Without --checkpoint it uses a synthetic checkpoint of mdlm-owt's shape, whose random
 * weights say little about a trained network's outliers: rerun it on the real checkpoint.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { SYNTH_PRESETS, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel, readManifest } from '../src/families/index.js';
import { GenerationService } from '../src/generation/index.js';
import { type ExportHead, type WeightDtype } from '../src/model/index.js';
import { SeededRandom } from '../src/random.js';
import { ProviderOptionsSchema } from '../src/runtime/index.js';
import { GPT2_TOKENIZER_DIR, machineLine } from './support.js';

const ArgsSchema = z.object({
  checkpoint: z.string().optional(),
  length: z.coerce.number().int().positive().default(256),
  sequences: z.coerce.number().int().positive().default(4),
  mcSamples: z.coerce.number().int().positive().default(32),
});
type Args = z.infer<typeof ArgsSchema>;

const MASK_RATES = [0.15, 0.5, 0.85];
const CORPUS = join(import.meta.dirname, 'data', 'fidelity-corpus.txt');

function parse(): Args {
  const { values } = parseArgs({ options: { checkpoint: { type: 'string' }, length: { type: 'string' }, sequences: { type: 'string' }, 'mc-samples': { type: 'string' } } });
  return ArgsSchema.parse({ ...values, mcSamples: values['mc-samples'] });
}

async function checkpointDir(args: Args, work: string): Promise<string> {
  if (args.checkpoint !== undefined) return args.checkpoint;
  const dir = join(work, 'checkpoint');
  await synthesizeCheckpoint({ outDir: dir, shape: SYNTH_PRESETS.owt, seed: 1 });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(GPT2_TOKENIZER_DIR, file), join(dir, file));
  return dir;
}

async function exportAs(checkpoint: string, work: string, head: ExportHead, dtype: WeightDtype): Promise<string> {
  const outDir = join(work, `${head}-${dtype}`);
  if (!existsSync(outDir)) await exportModel({ checkpointDir: checkpoint, outDir, head, dtype });
  return outDir;
}

/** Rows of random tokens with `rate` of their positions masked (the same rows for both exports). */
function inputs(args: Args, vocab: number, mask: number, rate: number): BigInt64Array[] {
  const random = SeededRandom.fromSeed(Math.round(rate * 1000));
  return Array.from({ length: args.sequences }, () => BigInt64Array.from({ length: args.length }, () => BigInt(random.uniform() < rate ? mask : Math.floor(random.uniform() * (vocab - 1)))));
}

async function logitsOf(exportDir: string, rows: BigInt64Array[], length: number): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'), { graphOptimizationLevel: 'all' });
  try {
    const out: Float32Array[] = [];
    for (const ids of rows) out.push(((await session.run({ input_ids: new ort.Tensor('int64', ids, [1, length]) })).logits?.data as Float32Array).slice());
    return out;
  } finally {
    await session.release();
  }
}

/** SUBS at a masked position: softmax over every token but the mask, in float64. */
function logSoftmaxWithoutMask(logits: Float32Array, offset: number, vocab: number, mask: number): Float64Array {
  let largest = -Infinity;
  for (let v = 0; v < vocab; v++) if (v !== mask) largest = Math.max(largest, logits[offset + v] as number);
  let sum = 0;
  for (let v = 0; v < vocab; v++) if (v !== mask) sum += Math.exp((logits[offset + v] as number) - largest);
  const normaliser = largest + Math.log(sum);
  return Float64Array.from({ length: vocab }, (_, v) => (v === mask ? -Infinity : (logits[offset + v] as number) - normaliser));
}

interface LogitsFidelity {
  rate: number;
  rmsError: number;
  maxError: number;
  meanKl: number;
  maxKl: number;
  argmaxAgreement: number;
}

function compare(rate: number, rows: BigInt64Array[], full: Float32Array[], quantized: Float32Array[], vocab: number, mask: number): LogitsFidelity {
  let squaredError = 0;
  let squaredSpread = 0;
  let maxError = 0;
  let count = 0;
  let sum = 0;
  const kls: number[] = [];
  let agree = 0;
  rows.forEach((ids, r) => {
    const a = full[r] as Float32Array;
    const b = quantized[r] as Float32Array;
    for (let i = 0; i < a.length; i++) sum += a[i] as number;
    count += a.length;
    for (let i = 0; i < a.length; i++) {
      const error = Math.abs((b[i] as number) - (a[i] as number));
      squaredError += error * error;
      maxError = Math.max(maxError, error);
    }
    ids.forEach((id, position) => {
      if (Number(id) !== mask) return;
      const p = logSoftmaxWithoutMask(a, position * vocab, vocab, mask);
      const q = logSoftmaxWithoutMask(b, position * vocab, vocab, mask);
      let kl = 0;
      let bestP = 0;
      let bestQ = 0;
      for (let v = 0; v < vocab; v++) {
        if (v === mask) continue;
        kl += Math.exp(p[v] as number) * ((p[v] as number) - (q[v] as number));
        if ((p[v] as number) > (p[bestP] as number)) bestP = v;
        if ((q[v] as number) > (q[bestQ] as number)) bestQ = v;
      }
      kls.push(kl);
      if (bestP === bestQ) agree++;
    });
  });
  const mean = sum / count;
  rows.forEach((_, r) => {
    for (const value of full[r] as Float32Array) squaredSpread += (value - mean) ** 2;
  });
  return {
    rate,
    rmsError: Math.sqrt(squaredError / squaredSpread),
    maxError,
    meanKl: kls.reduce((total, kl) => total + kl, 0) / kls.length,
    maxKl: Math.max(...kls),
    argmaxAgreement: agree / kls.length,
  };
}

async function corpusNelbo(exportDir: string, documents: string[], mcSamples: number): Promise<{ nll: number; tokens: number; perItem: number[] }> {
  const service = await GenerationService.open({
    exportDir,
    device: 'cpu',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    scheduler: { maxBatch: 16, maxBatchEntries: 16_384, maxQueue: documents.length, batchWaitMs: 0 },
  });
  try {
    const result = await service.score(service.prepareScore({ items: documents.map((input) => ({ input })), method: 'elbo', mcSamples, seed: 7 }));
    const tokens = result.items.reduce((total, item) => total + item.tokenIds.length, 0);
    return { nll: result.items.reduce((total, item) => total + item.nll, 0), tokens, perItem: result.items.map((item) => item.nll) };
  } finally {
    await service.close();
  }
}

async function main(): Promise<void> {
  const args = parse();
  const work = mkdtempSync(join(tmpdir(), 'mdlm-int8-fidelity-'));
  try {
    const checkpoint = await checkpointDir(args, work);
    const [logits32, logits8] = [await exportAs(checkpoint, work, 'logits', 'fp32'), await exportAs(checkpoint, work, 'logits', 'int8')];
    const manifest = await readManifest(logits32);
    const vocab = manifest.config.vocab_size;
    const mask = manifest.maskIndex;
    console.log(machineLine());
    console.log(`checkpoint: ${args.checkpoint ?? 'synthetic, mdlm-owt shape (random weights)'}; ${args.sequences} sequences of L = ${args.length} per mask rate\n`);
    console.log('| masked | rms error / rms(logits) | max abs error | mean KL(p_fp32 ‖ p_int8) | max KL | same argmax |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const rate of MASK_RATES) {
      const rows = inputs(args, vocab, mask, rate);
      const f = compare(rate, rows, await logitsOf(logits32, rows, args.length), await logitsOf(logits8, rows, args.length), vocab, mask);
      console.log(`| ${(100 * rate).toFixed(0)}% | ${f.rmsError.toExponential(2)} | ${f.maxError.toFixed(3)} | ${f.meanKl.toExponential(2)} nats | ${f.maxKl.toExponential(2)} | ${(100 * f.argmaxAgreement).toFixed(1)}% |`);
    }
    const documents = readFileSync(CORPUS, 'utf8').split('\n').filter((line) => line.trim() !== '');
    const [full, quantized] = [
      await corpusNelbo(await exportAs(checkpoint, work, 'positions', 'fp32'), documents, args.mcSamples),
      await corpusNelbo(await exportAs(checkpoint, work, 'positions', 'int8'), documents, args.mcSamples),
    ];
    const differences = full.perItem.map((nll, i) => (quantized.perItem[i] as number) - nll);
    const meanDifference = differences.reduce((a, b) => a + b, 0) / differences.length;
    const spread = Math.sqrt(differences.reduce((total, d) => total + (d - meanDifference) ** 2, 0) / (differences.length - 1) / differences.length);
    console.log(`\nNELBO of ${documents.length} documents (${full.tokens} tokens), ${args.mcSamples} draws each, same seed:`);
    console.log(`| export | NELBO per token (nats) | perplexity bound |`);
    console.log('| --- | ---: | ---: |');
    for (const [name, value] of [['fp32', full], ['int8', quantized]] as const) console.log(`| ${name} | ${(value.nll / value.tokens).toFixed(4)} | ${Math.exp(value.nll / value.tokens).toFixed(2)} |`);
    console.log(`int8 − fp32: ${((quantized.nll - full.nll) / full.tokens).toExponential(2)} nats per token (paired over documents: ${(meanDifference * documents.length / full.tokens).toExponential(2)} ± ${(spread * documents.length / full.tokens).toExponential(2)})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
