import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readManifest } from '../../src/families/index.js';
import { GraphBuilder } from '../../src/model/graph-builder.js';
import { TransformerLayers } from '../../src/model/layers.js';
import { OPSETS } from '../../src/model/manifest.js';
import { OnnxDataType, modelProto } from '../../src/model/onnx-proto.js';
import { quantizeColumns } from '../../src/model/quantize.js';
import { SeededRandom } from '../../src/random.js';
import { PARITY_FIXTURES, type ParityCase, fixtureDir, parityCases } from '../helpers/fixtures.js';
import { exportVariant, runLogits } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';

/** Seeded standard normals (Box–Muller over a 31-bit LCG). */
function normals(count: number, seed: number, scale = 1): Float32Array {
  return SeededRandom.fromSeed(seed).fillNormal(new Float32Array(count), 0, scale);
}

/** Weights in −63…63 (7 bits, so that x86's int16 pair sums cannot saturate); activations in −127…127 around 128. */
const WEIGHT_LEVELS = 63;
const ACTIVATION_LEVELS = 127;

/** ONNX's Round: halves to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

test('weights quantise per column to round(w / (max |w| / 63)), an all-zero column to zeros', () => {
  const weight = Float32Array.from([0.5, 0, -1, 0.25, 0, 2, -0.127, 0, -2]);
  const { values, scales } = quantizeColumns(weight, 3);
  assert.deepEqual(Array.from(scales), [0.5 / WEIGHT_LEVELS, 1, 2 / WEIGHT_LEVELS].map(Math.fround));
  for (let i = 0; i < weight.length; i++) {
    const scale = scales[i % 3] as number;
    assert.equal(values[i], Math.round((weight[i] as number) / scale), `element ${i}`);
    assert.ok(Math.abs(values[i] as number) <= WEIGHT_LEVELS);
  }
  assert.equal(values[8], -WEIGHT_LEVELS);
  assert.deepEqual([values[1], values[4], values[7]], [0, 0, 0]);
});

/**
 * The int8 product computed by hand: each column of W quantised to round(w / s_c) with
 * s_c = max |w_c| / 63, each row of x shifted into uint8 around 128 with its own scale
 * max |x_r| / 127 (float32, as the graph computes it), integer sums, then both scales.
 */
function integerProduct(x: Float32Array, rows: number, weight: Float32Array, inWidth: number): Float64Array {
  const outWidth = weight.length / inWidth;
  const scales = Float32Array.from({ length: outWidth }, (_, o) => {
    let largest = 0;
    for (let i = 0; i < inWidth; i++) largest = Math.max(largest, Math.abs(weight[i * outWidth + o] as number));
    return largest > 0 ? largest / WEIGHT_LEVELS : 1;
  });
  const values = Int8Array.from(weight, (w, i) => Math.round(w / (scales[i % outWidth] as number)));
  const result = new Float64Array(rows * outWidth);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * inWidth, (r + 1) * inWidth);
    const rowScale = Math.max(Math.fround(Math.fround(row.reduce((m, v) => Math.max(m, Math.abs(v)), 0)) * Math.fround(1 / ACTIVATION_LEVELS)), Math.fround(1e-30));
    const quantized = Array.from(row, (v) => Math.min(255, Math.max(0, roundHalfEven(Math.fround(v / rowScale)) + 128)) - 128);
    for (let o = 0; o < outWidth; o++) {
      let sum = 0;
      for (let i = 0; i < inWidth; i++) sum += (quantized[i] as number) * (values[i * outWidth + o] as number);
      result[r * outWidth + o] = sum * rowScale * (scales[o] as number);
    }
  }
  return result;
}

async function runInt8Product(x: Float32Array, dims: number[], weight: Float32Array, inWidth: number): Promise<Float32Array> {
  const dir = tempDir();
  const builder = new GraphBuilder(join(dir, 'product.onnx'), join(dir, 'product.onnx.data'), 'product.onnx.data');
  const layers = new TransformerLayers(builder, { dtype: 'int8', fused: true, layerNormEpsilon: 1e-5 });
  const input = builder.input('x', 'float', dims);
  const product = layers.matmul(input, 'product', weight, inWidth);
  builder.node('Identity', [product], { outputs: ['y'] });
  builder.output('y', 'float', [...dims.slice(0, -1), weight.length / inWidth]);
  builder.finish(OPSETS, 'test');
  const session = await ort.InferenceSession.create(join(dir, 'product.onnx'));
  const output = (await session.run({ x: new ort.Tensor('float32', x, dims) })).y?.data as Float32Array;
  await session.release();
  return output;
}

test('the int8 product is the integer computation: per-row activation scales, per-column weight scales, exact int32 sums', async () => {
  const [batch, length, inWidth, outWidth] = [2, 5, 48, 24];
  const x = normals(batch * length * inWidth, 7);
  // Rows of very different ranges, one all zero, one with an outlier: the per-row scales must follow each.
  x.fill(0, 0, inWidth);
  for (let i = inWidth; i < 2 * inWidth; i++) x[i] = (x[i] as number) * 1e-3;
  x[3 * inWidth + 5] = 40;
  // A row at its largest value everywhere (uint8 255) against columns at their largest weight:
  // where the CPU sums pairs of u8·s8 products in int16, 8-bit weights would saturate here.
  x.fill(2.5, 4 * inWidth, 5 * inWidth);
  const weight = normals(inWidth * outWidth, 11, 0.02);
  for (let i = 0; i < inWidth; i++) {
    weight[i * outWidth] = 0.05;
    weight[i * outWidth + 1] = -0.05;
  }
  const actual = await runInt8Product(x, [batch, length, inWidth], weight, inWidth);
  const expected = integerProduct(x, batch * length, weight, inWidth);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 2e-6 * Math.abs(expected[i] as number) + 1e-12;
    assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) <= tolerance, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
  assert.deepEqual(Array.from(actual.subarray(0, outWidth)), new Array(outWidth).fill(0));
});

/**
 * How far int8 logits may move from fp32's. A quantised value moves by at most half a step,
 * step = max |row| / levels, uniformly: rms = step / √12. Relative to the rms of what is
 * quantised, that is c / (levels·√12) with c = max / rms, the crest factor of a row or column
 * (≤ 4 for the Gaussian-like weights and normed activations of D ≤ 4096: P(|z| > 4) ≈ 6e-5 per
 * element). Each of the 4·blocks block products rounds its input (127 levels) and its weights
 * (63 levels): in quadrature, rms(error) ≤ (4/√12)·√(4·blocks·(1/127² + 1/63²))·rms(logits)
 * (the output layer stays float32). Gross mistakes (a scale dropped, a transposed weight) are
 * far outside it; the exact product test above is what pins the arithmetic down.
 */
function assertWithinInt8(expected: Float32Array, actual: Float32Array, blocks: number): string {
  let squaredError = 0;
  let squaredDeviation = 0;
  const mean = expected.reduce((sum, value) => sum + value, 0) / expected.length;
  expected.forEach((value, i) => {
    squaredError += ((actual[i] as number) - value) ** 2;
    squaredDeviation += (value - mean) ** 2;
  });
  const ratio = Math.sqrt(squaredError / squaredDeviation);
  const bound = (4 / Math.sqrt(12)) * Math.sqrt(4 * blocks * (1 / ACTIVATION_LEVELS ** 2 + 1 / WEIGHT_LEVELS ** 2));
  assert.ok(ratio <= bound, `rms error ${ratio.toExponential(3)} of the logits' rms; the bound is ${bound.toExponential(3)}`);
  assert.ok(ratio > 0, 'int8 logits equal fp32 ones exactly: nothing was quantised');
  return `rms error ${ratio.toExponential(3)} of rms(logits), bound ${bound.toExponential(3)}`;
}

for (const name of PARITY_FIXTURES.filter((fixture) => !fixture.startsWith('gpt2'))) {
  for (const fused of [true, false]) {
    test(`int8 logits stay within int8's precision of fp32's: ${name}, ${fused ? 'fused' : 'standard'} operators`, async (t) => {
      const fp32Dir = await exportVariant(fixtureDir(name), 'logits', 'fp32', fused);
      const int8Dir = await exportVariant(fixtureDir(name), 'logits', 'int8', fused);
      const manifest = await readManifest(int8Dir);
      assert.equal(manifest.dtype, 'int8');
      const full: number[] = [];
      const quantized: number[] = [];
      for (const testCase of parityCases(name) as ParityCase[]) {
        full.push(...(await runLogits(fp32Dir, testCase.input_ids, testCase.sigma ?? undefined)));
        quantized.push(...(await runLogits(int8Dir, testCase.input_ids, testCase.sigma ?? undefined)));
      }
      t.diagnostic(assertWithinInt8(Float32Array.from(full), Float32Array.from(quantized), manifest.config.n_blocks));
    });
  }
}

test('int8 quantises exactly the 4 block products per block; embeddings, attention and the output layer stay float32', async () => {
  const int8Dir = await exportVariant(fixtureDir('tiny-uncond'), 'logits', 'int8', true);
  const manifest = await readManifest(int8Dir);
  const model = modelProto().decode(readFileSync(join(int8Dir, manifest.files.model))) as unknown as { graph: { node: { opType: string; name: string }[]; initializer: { name: string; dataType: number }[] } };
  const count = (opType: string) => model.graph.node.filter((node) => node.opType === opType).length;
  assert.equal(count('MatMulIntegerToFloat'), 4 * manifest.config.n_blocks);
  assert.equal(count('MatMul'), 1, 'the output layer, in float32');
  const int8Weights = model.graph.initializer.filter((tensor) => tensor.dataType === OnnxDataType.int8).map((tensor) => tensor.name);
  assert.equal(int8Weights.length, 4 * manifest.config.n_blocks);
  assert.ok(int8Weights.every((name) => /^blocks\.\d+\/(attn_qkv|attn_out|mlp\.0|mlp\.2)\.weight_int8$/.test(name)), int8Weights.join(', '));
});

test('an int8 sequence gets the same logits whatever else is in its batch (per-row scales)', async () => {
  const name = 'tiny-uncond';
  const int8Dir = await exportVariant(fixtureDir(name), 'logits', 'int8', true);
  const ids = (parityCases(name)[0] as ParityCase).input_ids[0] as number[];
  const vocab = (await readManifest(int8Dir)).config.vocab_size;
  const alone = await runLogits(int8Dir, [ids]);
  const loud = ids.map((_, i) => (i * 7 + 3) % (vocab - 1));
  const together = await runLogits(int8Dir, [loud, ids, [...ids].reverse()]);
  assert.deepEqual(Array.from(together.subarray(alone.length, 2 * alone.length)), Array.from(alone));
});
