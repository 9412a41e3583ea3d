import { type GraphBuilder, float } from './graph-builder.js';
import { OnnxDataType } from './onnx-proto.js';
import { ACTIVATION_LEVELS, quantizeColumns } from './quantize.js';

export const WEIGHT_DTYPES = ['fp32', 'fp16', 'int8'] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/** What a matrix product is for: int8 quantises the transformer blocks' products only. */
export type ProductRole = 'block' | 'output';

/** Activations shifted into uint8 around this zero point (u8·s8, onnxruntime's fast integer kernel on x86). */
const ACTIVATION_ZERO_POINT = 128;

export const MS_DOMAIN = 'com.microsoft';

/** The residual stream, with the last sublayer's output (and its bias) not yet added: the norm that follows adds them. */
export interface Residual {
  stream: string;
  pending?: { delta: string; bias?: string };
}

export interface LayerOptions {
  dtype: WeightDtype;
  /** onnxruntime's contrib operators (MultiHeadAttention, RotaryEmbedding, FastGelu). */
  fused: boolean;
  layerNormEpsilon: number;
}

/**
 * The layers every transformer here is made of, each in its fused (contrib operator) and
 * standard ONNX form, and the precision policy around them.
 *
 * fp16 keeps the mixed precision these checkpoints ran under (autocast around a float32
 * residual stream): the matrix products and attention run in float16 between a Cast in (after
 * each norm) and a Cast out (each sublayer's output, before the float32 residual add); norms,
 * softmax and the heads stay float32.
 *
 * int8 quantises the weights of the blocks' matrix products (qkv, attention out, both MLP
 * layers) per output column to 7 bits (see quantize.ts) and their inputs per row to 8, at run time, and multiplies in integers
 * (MatMulIntegerToFloat); everything else (embeddings, norms, attention, the output layer, the heads)
 * stays float32. Per row, not per tensor: a row's result then depends on that row alone, so a
 * sequence's output does not change with what else is in its batch.
 */
export class TransformerLayers {
  private futureMask: string | undefined;

  constructor(
    private readonly b: GraphBuilder,
    private readonly options: LayerOptions,
  ) {}

  get fused(): boolean {
    return this.options.fused;
  }

  /** The type of the matrix weights, and of the products and attention that use them. */
  get weightType(): 'float' | 'float16' {
    return this.options.dtype === 'fp16' ? 'float16' : 'float';
  }

  /** float32 → the compute type (a no-op in fp32). */
  toCompute(x: string): string {
    return this.options.dtype === 'fp16' ? this.b.op('Cast', [x], { attributes: { to: OnnxDataType.float16 } }) : x;
  }

  /** The compute type → float32 (a no-op in fp32). */
  toFloat(x: string): string {
    return this.options.dtype === 'fp16' ? this.b.op('Cast', [x], { attributes: { to: OnnxDataType.float } }) : x;
  }

  /**
   * A table Gather reads (an embedding, stored in the data file), through a copy the session
   * owns: Add(table, 0) is computed once by onnxruntime's constant folding while the session is
   * built, so the mapped file is not read after that, as with the packed products. Gather packs
   * nothing: the table read directly would be served from the mapping. Inline in model.onnx it
   * would be owned too, but read by us and then copied out of the protobuf by onnxruntime:
   * 250 ms for owt's 154 MB table, where the folded copy takes 160. fp16 sessions get the data
   * in memory (model/load.ts) and onnxruntime has no CPU Add to fold a float16 one with.
   */
  sessionCopy(table: string): string {
    return this.options.dtype === 'fp16' ? table : this.b.op('Add', [table, this.b.floats('zero', [0], [])]);
  }

  /** x·W with W already laid out [in, out] (MatMul's order); x and the result in the compute type. */
  matmul(x: string, name: string, weight: Float32Array, inWidth: number, role: ProductRole = 'block'): string {
    if (this.options.dtype === 'int8' && role === 'block') return this.int8Matmul(x, name, weight, inWidth);
    const stored = this.b.initializer(`${name}.weight`, this.weightType, [inWidth, weight.length / inWidth], weight, 'data-file');
    return this.b.op('MatMul', [x, stored]);
  }

  /**
   * x·W in integers: W as int8 (−63…63) with a scale per output column, each row r of x as
   * uint8 round(x / s_r) + 128 with s_r = max |x_r| / 127, then (Σ (x_q − 128)·W_q) · s_r · s_col.
   */
  private int8Matmul(x: string, name: string, weight: Float32Array, inWidth: number): string {
    const { b } = this;
    const outWidth = weight.length / inWidth;
    const { values, scales } = quantizeColumns(weight, inWidth);
    const stored = b.initializer(`${name}.weight_int8`, 'int8', [inWidth, outWidth], values, 'data-file');
    const columnScales = b.initializer(`${name}.weight_scale`, 'float', [outWidth], scales);
    const largest = b.op('ReduceMax', [b.op('Abs', [x]), b.int64s('last_axis', [-1])], { attributes: { keepdims: 1 } });
    // An all-zero row keeps a positive scale (and quantises to zeros).
    const rowScales = b.op('Max', [b.op('Mul', [largest, b.floats('per_level', [1 / ACTIVATION_LEVELS], [])]), b.floats('smallest_scale', [1e-30], [])]);
    // QuantizeLinear scales along one axis: the rows, flattened.
    const flatScales = b.op('Reshape', [rowScales, b.int64s('flat', [-1])]);
    const zeroPoint = b.uint8s('activation_zero_point_u8', [ACTIVATION_ZERO_POINT], []);
    const zeroPoints = b.op('Expand', [zeroPoint, b.op('Shape', [flatScales])]);
    const flatRows = b.op('Reshape', [x, b.int64s(`rows_of_${inWidth}`, [-1, inWidth])]);
    const quantized = b.op('Reshape', [b.op('QuantizeLinear', [flatRows, flatScales, zeroPoints], { attributes: { axis: 0 } }), b.op('Shape', [x])]);
    const products = b.op('MatMulIntegerToFloat', [quantized, stored, b.floats('unit_scale', [1], []), columnScales, zeroPoint], { domain: MS_DOMAIN });
    return b.op('Mul', [products, rowScales]);
  }

  /**
   * Adds the pending sublayer output to the stream and normalises (float32). Always the
   * standard Add and LayerNormalization, even in a fused graph: onnxruntime's CPU
   * SkipLayerNormalization took 5.6 ms per owt pass at L = 128 where these take 1.9 ms
   * (bench/forward.ts --profile), and its optimiser fuses them itself on the providers whose
   * fused kernel is faster.
   */
  layerNorm(residual: Residual, gamma: string, beta: string | undefined): { normed: string; stream: string } {
    const { b } = this;
    let stream = residual.stream;
    if (residual.pending !== undefined) {
      stream = b.op('Add', [stream, residual.pending.delta]);
      if (residual.pending.bias !== undefined) stream = b.op('Add', [stream, residual.pending.bias]);
    }
    const inputs = beta === undefined ? [stream, gamma] : [stream, gamma, beta];
    return { normed: b.op('LayerNormalization', inputs, { attributes: { epsilon: float(this.options.layerNormEpsilon), axis: -1 } }), stream };
  }

  /**
   * softmax(q·kᵀ/√d)·v per head over [B, L, H·d] inputs in the compute type, with the scores
   * and softmax in float32; `causal` lets position p attend to positions ≤ p only.
   */
  attention(q: string, k: string, v: string, heads: number, headWidth: number, causal: boolean): string {
    const { b } = this;
    if (this.options.fused) {
      return b.op('MultiHeadAttention', [q, k, v], { domain: MS_DOMAIN, attributes: { num_heads: heads, ...(causal && { unidirectional: 1 }) } });
    }
    const split = (x: string, perm: number[]) =>
      b.op('Transpose', [b.op('Reshape', [x, b.int64s('heads_shape', [0, 0, heads, headWidth])])], { attributes: { perm } });
    let scores = b.op('Mul', [this.toFloat(b.op('MatMul', [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])])), b.floats('scale', [1 / Math.sqrt(headWidth)], [])]);
    if (causal) scores = b.op('Where', [this.future(q), b.floats('minus_infinity', [-Infinity], []), scores]);
    const probabilities = this.toCompute(b.op('Softmax', [scores], { attributes: { axis: -1 } }));
    const context = b.op('MatMul', [probabilities, split(v, [0, 2, 1, 3])]);
    return b.op('Reshape', [b.op('Transpose', [context], { attributes: { perm: [0, 2, 1, 3] } }), b.int64s('merge_shape', [0, 0, heads * headWidth])]);
  }

  /** GELU with the tanh approximation (GPT-2's gelu_new) of x + bias. */
  geluTanh(x: string, bias: string): string {
    const { b } = this;
    if (this.options.fused) return b.op('FastGelu', [x, bias], { domain: MS_DOMAIN });
    return b.op('Gelu', [b.op('Add', [x, bias])], { attributes: { approximate: 'tanh' } });
  }

  /** [L, L] true where the key comes after the query, built once from the length of `x` [B, L, ...]. */
  private future(x: string): string {
    const { b } = this;
    if (this.futureMask !== undefined) return this.futureMask;
    const length = b.op('Gather', [b.op('Shape', [x]), b.int64s('length_axis', [1], [])], { attributes: { axis: 0 } });
    const positions = b.op('Range', [b.int64s('zero_scalar', [0], []), length, b.int64s('one_scalar', [1], [])]);
    const queries = b.op('Unsqueeze', [positions, b.int64s('axis1', [1])]);
    const keys = b.op('Unsqueeze', [positions, b.int64s('axis0', [0])]);
    this.futureMask = b.op('Greater', [keys, queries]);
    return this.futureMask;
  }
}
