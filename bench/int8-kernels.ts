/**
 * Which of onnxruntime's integer matrix products --dtype int8 should use on this CPU: one
 * product of an owt block's shape ([L, 768] × [768, 3072] by default), fp32 against
 *  - per-row uint8 activations (QuantizeLinear) and per-column 7-bit int8 weights through
 *    MatMulIntegerToFloat (what the exporter emits: a row's result depends on that row alone),
 *  - the same with full 8-bit weights, and with 8-bit weights stored as uint8 (u8×u8): the
 *    two exact alternatives weighed against 7 bits (see src/model/quantize.ts). On a CPU without
 *    VNNI the u8×s8 kernel saturates with 8-bit weights, which shows here as a larger error;
 *    run this under `qemu-x86_64 -cpu Haswell` to see that path on an AVX-512 machine,
 *  - DynamicQuantizeMatMul (contrib: one activation scale per tensor, so a row's result
 *    depends on its batch),
 *  - MatMulNBits (contrib: block-wise weights, 8 or 4 bits, accuracy_level 4 = int8 compute),
 * with each one's error against the exact product. Medians of --repeat runs, on --threads.
 *
 *   node --import tsx bench/int8-kernels.ts [--rows 128,1024] [--in 768] [--out 3072] [--threads 2] [--repeat 21]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { GraphBuilder } from '../src/model/graph-builder.js';
import { TransformerLayers } from '../src/model/layers.js';
import { MS_DOMAIN } from '../src/model/layers.js';
import { OPSETS } from '../src/model/manifest.js';
import { ACTIVATION_LEVELS, quantizeColumns } from '../src/model/quantize.js';
import { SeededRandom } from '../src/random.js';
import { intList, machineLine, median } from './support.js';

const ArgsSchema = z.object({
  rows: intList.default([128, 1024]),
  in: z.coerce.number().int().positive().default(768),
  out: z.coerce.number().int().positive().default(3072),
  threads: z.coerce.number().int().positive().default(2),
  repeat: z.coerce.number().int().positive().default(21),
});
type Args = z.infer<typeof ArgsSchema>;

type Variant = { name: string; build: (b: GraphBuilder, x: string, weight: Float32Array, args: Args) => string };

function normals(count: number, seed: number, scale: number): Float32Array {
  return SeededRandom.fromSeed(seed).fillNormal(new Float32Array(count), 0, scale);
}

/** Block-wise symmetric weights for MatMulNBits: [out, blocks, block·bits/8] with the default zero point 2^(bits−1). */
function nbitsWeights(weight: Float32Array, args: Args, bits: number, block: number): { packed: Uint8Array; scales: Float32Array } {
  const blocks = args.in / block;
  const blob = (block * bits) / 8;
  const packed = new Uint8Array(args.out * blocks * blob);
  const scales = new Float32Array(args.out * blocks);
  const levels = 2 ** (bits - 1) - 1;
  for (let n = 0; n < args.out; n++) {
    for (let k0 = 0; k0 < blocks; k0++) {
      let largest = 0;
      for (let k = 0; k < block; k++) largest = Math.max(largest, Math.abs(weight[(k0 * block + k) * args.out + n] as number));
      const scale = largest / levels || 1;
      scales[n * blocks + k0] = scale;
      for (let k = 0; k < block; k++) {
        const q = Math.max(0, Math.min(2 ** bits - 1, Math.round((weight[(k0 * block + k) * args.out + n] as number) / scale) + 2 ** (bits - 1)));
        const at = (n * blocks + k0) * blob;
        if (bits === 8) packed[at + k] = q;
        else packed[at + (k >> 1)] = (packed[at + (k >> 1)] as number) | (k & 1 ? q << 4 : q);
      }
    }
  }
  return { packed, scales };
}

const nbits = (bits: number, block: number): Variant => ({
  name: `MatMulNBits ${bits}-bit, block ${block}`,
  build: (b, x, weight, args) => {
    const { packed, scales } = nbitsWeights(weight, args, bits, block);
    const B = b.initializer('w', 'uint8', [args.out, args.in / block, (block * bits) / 8], packed, 'data-file');
    const S = b.initializer('s', 'float', [scales.length], scales);
    return b.op('MatMulNBits', [x, B, S], { domain: MS_DOMAIN, attributes: { K: args.in, N: args.out, bits, block_size: block, accuracy_level: 4 } });
  },
});

/** The exporter's per-row activations against per-column weights of `levels`, stored as int8 or shifted into uint8 around 128. */
const integerProduct = (label: string, levels: number, weightType: 'int8' | 'uint8'): Variant => ({
  name: `MatMulIntegerToFloat, per-row activations, ${label}`,
  build: (b, x, weight, args) => {
    const { values, scales } = quantizeColumns(weight, args.in, levels);
    const stored = weightType === 'int8' ? values : Uint8Array.from(values, (q) => q + 128);
    const largest = b.op('ReduceMax', [b.op('Abs', [x]), b.int64s('last_axis', [-1])], { attributes: { keepdims: 1 } });
    const rowScales = b.op('Max', [b.op('Mul', [largest, b.floats('per_level', [1 / ACTIVATION_LEVELS], [])]), b.floats('smallest_scale', [1e-30], [])]);
    const flatScales = b.op('Reshape', [rowScales, b.int64s('flat', [-1])]);
    const zeroPoint = b.uint8s('zero_point', [128], []);
    const quantized = b.op('QuantizeLinear', [x, flatScales, b.op('Expand', [zeroPoint, b.op('Shape', [flatScales])])], { attributes: { axis: 0 } });
    const inputs = [quantized, b.initializer('w', weightType, [args.in, args.out], stored, 'data-file'), b.floats('unit_scale', [1], []), b.initializer('s', 'float', [args.out], scales), zeroPoint];
    if (weightType === 'uint8') inputs.push(zeroPoint);
    return b.op('Mul', [b.op('MatMulIntegerToFloat', inputs, { domain: MS_DOMAIN }), rowScales]);
  },
});

const VARIANTS: Variant[] = [
  { name: 'fp32 MatMul', build: (b, x, weight, args) => b.op('MatMul', [x, b.initializer('w', 'float', [args.in, args.out], weight, 'data-file')]) },
  {
    name: 'MatMulIntegerToFloat, per-row activations, 7-bit weights (the export)',
    build: (b, x, weight, args) => new TransformerLayers(b, { dtype: 'int8', fused: true, layerNormEpsilon: 1e-5 }).matmul(x, 'w', weight, args.in),
  },
  integerProduct('8-bit int8 weights', 127, 'int8'),
  integerProduct('8-bit weights as uint8 (u8×u8)', 127, 'uint8'),
  {
    name: 'DynamicQuantizeMatMul, per-tensor activations',
    build: (b, x, weight, args) => {
      const { values, scales } = quantizeColumns(weight, args.in);
      return b.op('DynamicQuantizeMatMul', [x, b.initializer('w', 'int8', [args.in, args.out], values, 'data-file'), b.initializer('s', 'float', [args.out], scales)], { domain: MS_DOMAIN });
    },
  },
  nbits(8, 32),
  nbits(8, 128),
  nbits(4, 32),
  nbits(4, 128),
];

function exact(x: Float32Array, weight: Float32Array, rows: number, args: Args): Float64Array {
  const y = new Float64Array(rows * args.out);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < args.in; k++) {
      const xv = x[r * args.in + k] as number;
      for (let n = 0; n < args.out; n++) y[r * args.out + n] = (y[r * args.out + n] as number) + xv * (weight[k * args.out + n] as number);
    }
  }
  return y;
}

async function measure(variant: Variant, rows: number, x: Float32Array, weight: Float32Array, reference: Float64Array, args: Args, dir: string): Promise<{ ms: number; error: number }> {
  const path = join(dir, `${VARIANTS.indexOf(variant)}-${rows}.onnx`);
  const b = new GraphBuilder(path, `${path}.data`, `${VARIANTS.indexOf(variant)}-${rows}.onnx.data`);
  const y = variant.build(b, b.input('x', 'float', [rows, args.in]), weight, args);
  b.node('Identity', [y], { outputs: ['y'] });
  b.output('y', 'float', [rows, args.out]);
  b.finish(OPSETS, 'bench');
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const feeds = { x: new ort.Tensor('float32', x, [rows, args.in]) };
  const out = (await session.run(feeds)).y?.data as Float32Array;
  const times: number[] = [];
  for (let i = 0; i < args.repeat; i++) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  await session.release();
  let squaredError = 0;
  let squared = 0;
  reference.forEach((value, i) => {
    squaredError += ((out[i] as number) - value) ** 2;
    squared += value ** 2;
  });
  return { ms: median(times), error: Math.sqrt(squaredError / squared) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, in: { type: 'string' }, out: { type: 'string' }, threads: { type: 'string' }, repeat: { type: 'string' } } });
  const args = ArgsSchema.parse(values);
  const dir = mkdtempSync(join(tmpdir(), 'mdlm-int8-kernels-'));
  try {
    const weight = normals(args.in * args.out, 1, 0.02);
    console.log(machineLine());
    console.log(`[rows, ${args.in}] × [${args.in}, ${args.out}], ${args.threads} threads, median of ${args.repeat}\n`);
    console.log('| rows | product | ms | GFLOP/s | ÷ fp32 time | rms error / rms(product) |');
    console.log('| ---: | --- | ---: | ---: | ---: | ---: |');
    for (const rows of args.rows) {
      const x = normals(rows * args.in, 2, 1);
      const reference = exact(x, weight, rows, args);
      let fp32Ms = 0;
      for (const variant of VARIANTS) {
        const { ms, error } = await measure(variant, rows, x, weight, reference, args, dir);
        if (variant === VARIANTS[0]) fp32Ms = ms;
        console.log(`| ${rows} | ${variant.name} | ${ms.toFixed(2)} | ${((2 * rows * args.in * args.out) / ms / 1e6).toFixed(0)} | ${(ms / fp32Ms).toFixed(2)} | ${error.toExponential(2)} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
