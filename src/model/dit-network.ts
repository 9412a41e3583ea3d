import { type MdlmConfig, headWidth } from '../checkpoint/index.js';
import type { GraphBuilder } from './graph-builder.js';
import { type ExportHead, buildHead } from './heads.js';
import { MS_DOMAIN, type Residual, TransformerLayers, type WeightDtype } from './layers.js';
import { rotaryTables } from './rotary.js';
import { toFloat32, transposeForMatMul } from './weight-math.js';

export interface ModelGraphOptions {
  head: ExportHead;
  dtype: WeightDtype;
  /** onnxruntime's contrib operators (MultiHeadAttention, RotaryEmbedding, FastGelu). */
  fused: boolean;
  maskIndex: number;
}

/** What a network of the seed's DIT blocks reads: its shape, and its weights by canonical name (no `backbone.`). */
export interface DitWeights {
  readonly config: MdlmConfig;
  weight(canonicalName: string): Float32Array;
}

const LAYER_NORM_EPSILON = 1e-5;

/**
 * A modulation (shift, scale, gate, ...) is either known at export time (no time
 * conditioning, or no conditioning at all) or computed per row from sigma.
 */
export type Modulation = { kind: 'constant'; parts: Float64Array[] } | { kind: 'graph'; parts: string[] };

/**
 * The seed's transformer on DIT blocks (models/dit.py, models/autoregressive.py): token
 * embedding, rotary attention, pre-LN blocks with bias-free norms and attention projections,
 * a tanh-GELU MLP, a final norm and a biased output layer. What differs between the
 * architectures built on it is left to them: the modulation of each norm and residual
 * (adaLN for MDLM, none for the AR baseline), whether attention is causal, and the output
 * layer's weights.
 */
export abstract class DitNetwork {
  protected readonly config: MdlmConfig;
  protected readonly D: number;
  protected readonly layers: TransformerLayers;
  protected inputIds = '';
  private length = '';

  constructor(
    protected readonly b: GraphBuilder,
    protected readonly checkpoint: DitWeights,
    private readonly options: ModelGraphOptions,
  ) {
    this.config = checkpoint.config;
    this.D = this.config.hidden_dim;
    this.layers = new TransformerLayers(b, { dtype: options.dtype, fused: options.fused, layerNormEpsilon: LAYER_NORM_EPSILON });
  }

  /** Position p attends to positions ≤ p only. */
  protected abstract readonly causal: boolean;

  /** The `count` modulation vectors of the block or layer at `prefix` (blocks: shift1, scale1, gate1, shift2, scale2, gate2; output: shift, scale). */
  protected abstract modulation(prefix: string, count: number): Modulation;

  /** Inputs beyond input_ids, and anything the modulations need before the first block. */
  protected abstract prepareInputs(): void;

  /** The output layer's weight [V, D] and bias [V]. */
  protected outputLayer(): { weight: Float32Array; bias: Float32Array } {
    return { weight: this.checkpoint.weight('output_layer.linear.weight'), bias: this.checkpoint.weight('output_layer.linear.bias') };
  }

  build(): void {
    const { config, b } = this;
    this.inputIds = b.input('input_ids', 'int64', ['batch', 'length']);
    this.prepareInputs();
    this.length = b.op('Gather', [b.op('Shape', [this.inputIds]), b.int64s('length_axis', [1], [])], { attributes: { axis: 0 } });
    let residual: Residual = { stream: this.embed() };
    const rotary = this.rotaryCaches();
    for (let i = 0; i < config.n_blocks; i++) {
      residual = b.scoped(`blocks.${i}`, () => this.block(i, residual, rotary));
    }
    const features = b.scoped('output_layer', () => this.finalNorm(residual));
    buildHead(b, this.options.head, {
      features,
      width: this.D,
      vocabSize: config.vocab_size,
      maskIndex: this.options.maskIndex,
      project: (rows) => b.scoped('output_layer', () => this.outputProjection(rows)),
    });
  }

  protected get maskIndex(): number {
    return this.options.maskIndex;
  }

  // --- embedding, blocks, output --------------------------------------------------------

  private embed(): string {
    const { b, config } = this;
    const table = b.initializer('vocab_embed.embedding', this.layers.weightType, [config.vocab_size, this.D], this.checkpoint.weight('vocab_embed.embedding'), 'data-file');
    return this.layers.toFloat(b.op('Gather', [this.layers.sessionCopy(table), this.inputIds], { attributes: { axis: 0 } }));
  }

  private rotaryCaches(): { cos: string; sin: string } {
    const { b, config } = this;
    const half = headWidth(config) / 2;
    const { cos, sin } = rotaryTables(config.model_length, headWidth(config));
    const cosCache = b.initializer('rotary.cos', this.layers.weightType, [config.model_length, half], cos);
    const sinCache = b.initializer('rotary.sin', this.layers.weightType, [config.model_length, half], sin);
    if (this.options.fused) return { cos: cosCache, sin: sinCache };
    // The unfused rotation broadcasts tables of the current length over [B, L, H, d/2].
    const slice = (cache: string) =>
      b.op('Reshape', [
        b.op('Slice', [cache, b.int64s('zero', [0]), b.op('Unsqueeze', [this.length, b.int64s('axis0', [0])]), b.int64s('axis0b', [0])]),
        b.int64s('rotary_shape', [1, -1, 1, half]),
      ]);
    return { cos: slice(cosCache), sin: slice(sinCache) };
  }

  private block(index: number, residual: Residual, rotary: { cos: string; sin: string }): Residual {
    const { b } = this;
    const prefix = `blocks.${index}`;
    const w = (name: string) => this.checkpoint.weight(`${prefix}.${name}`);
    const mod = this.modulation(prefix, 6);
    const [shift1, scale1, gate1, shift2, scale2, gate2] = [0, 1, 2, 3, 4, 5];

    const attnIn = this.modulatedNorm(residual, w('norm1.weight'), mod, shift1, scale1);
    const qkv = this.matmul(this.layers.toCompute(attnIn.normed), 'attn_qkv', w('attn_qkv.weight'), this.D);
    const [q, k, v] = b.node('Split', [qkv], { outputs: 3, attributes: { axis: 2, num_outputs: 3 } }) as [string, string, string];
    const attention = this.layers.attention(this.rotate(q, rotary), this.rotate(k, rotary), v, this.config.n_heads, headWidth(this.config), this.causal);
    const attnOut = this.gatedLinear(attention, 'attn_out', w('attn_out.weight'), undefined, this.D, mod, gate1);

    const mlpIn = this.modulatedNorm({ stream: attnIn.stream, pending: attnOut }, w('norm2.weight'), mod, shift2, scale2);
    const up = this.matmul(this.layers.toCompute(mlpIn.normed), 'mlp.0', w('mlp.0.weight'), this.D);
    const activated = this.layers.geluTanh(up, b.initializer('mlp.0.bias', this.layers.weightType, [4 * this.D], w('mlp.0.bias')));
    return { stream: mlpIn.stream, pending: this.gatedLinear(activated, 'mlp.2', w('mlp.2.weight'), w('mlp.2.bias'), 4 * this.D, mod, gate2) };
  }

  private finalNorm(residual: Residual): string {
    const mod = this.modulation('output_layer', 2);
    return this.modulatedNorm(residual, this.checkpoint.weight('output_layer.norm_final.weight'), mod, 0, 1).normed;
  }

  private outputProjection(features: string): string {
    const { b, config } = this;
    const { weight, bias } = this.outputLayer();
    const logits = this.layers.toFloat(this.layers.matmul(this.layers.toCompute(features), 'linear', transposeForMatMul(weight, this.D), this.D, 'output'));
    return b.op('Add', [logits, b.initializer('output_layer.linear.bias', 'float', [config.vocab_size], bias)]);
  }

  // --- layers ---------------------------------------------------------------------------

  /**
   * LN(x)·w·(1 + scale) + shift. With constant modulations this folds into the norm's own
   * scale and bias; otherwise the modulation is applied per row after a plain norm.
   */
  private modulatedNorm(residual: Residual, normWeight: Float32Array, mod: Modulation, shiftIndex: number, scaleIndex: number): { normed: string; stream: string } {
    const { b } = this;
    if (mod.kind === 'constant') {
      const shift = mod.parts[shiftIndex] as Float64Array;
      const scale = mod.parts[scaleIndex] as Float64Array;
      const gamma = b.initializer('norm.gamma', 'float', [this.D], toFloat32(normWeight.map((w, i) => w * (1 + (scale[i] as number)))));
      const beta = b.initializer('norm.beta', 'float', [this.D], toFloat32(shift));
      return this.layers.layerNorm(residual, gamma, beta);
    }
    const gamma = b.initializer('norm.weight', 'float', [this.D], normWeight);
    const { normed, stream } = this.layers.layerNorm(residual, gamma, undefined);
    const onePlusScale = b.op('Add', [mod.parts[scaleIndex] as string, b.floats('one', [1], [])]);
    return { normed: b.op('Add', [b.op('Mul', [normed, onePlusScale]), mod.parts[shiftIndex] as string]), stream };
  }

  private rotate(x: string, rotary: { cos: string; sin: string }): string {
    const { b } = this;
    const H = this.config.n_heads;
    if (this.options.fused) {
      return b.op('RotaryEmbedding', [x, b.int64s('position_offset', [0]), rotary.cos, rotary.sin], {
        domain: MS_DOMAIN,
        attributes: { interleaved: 0, num_heads: H },
      });
    }
    const d = headWidth(this.config);
    const heads = b.op('Reshape', [x, b.int64s('heads_shape', [0, 0, H, d])]);
    const [x1, x2] = b.node('Split', [heads], { outputs: 2, attributes: { axis: 3, num_outputs: 2 } }) as [string, string];
    const first = b.op('Sub', [b.op('Mul', [x1, rotary.cos]), b.op('Mul', [x2, rotary.sin])]);
    const second = b.op('Add', [b.op('Mul', [x2, rotary.cos]), b.op('Mul', [x1, rotary.sin])]);
    const rotated = b.op('Concat', [first, second], { attributes: { axis: 3 } });
    return b.op('Reshape', [rotated, b.int64s('merge_shape', [0, 0, this.D])]);
  }

  /** x·Wᵀ for a PyTorch [out, in] weight, x and the result in the compute type. */
  private matmul(x: string, name: string, weight: Float32Array, inWidth: number, columnScale?: Float64Array): string {
    return this.layers.matmul(x, name, transposeForMatMul(weight, inWidth, columnScale), inWidth);
  }

  /**
   * gate·(x·Wᵀ + bias) in float32, returned as a pending residual update; x is in the compute
   * type. A constant gate is folded into the weight columns and the bias, which the next norm's
   * residual adds then take.
   */
  private gatedLinear(x: string, name: string, weight: Float32Array, bias: Float32Array | undefined, inWidth: number, mod: Modulation, gateIndex: number): { delta: string; bias?: string } {
    const { b } = this;
    const outWidth = weight.length / inWidth;
    if (mod.kind === 'constant') {
      const gate = mod.parts[gateIndex] as Float64Array;
      const delta = this.layers.toFloat(this.matmul(x, name, weight, inWidth, gate));
      if (bias === undefined) return { delta };
      return { delta, bias: b.initializer(`${name}.bias`, 'float', [outWidth], toFloat32(bias.map((value, i) => value * (gate[i] as number)))) };
    }
    let product = this.layers.toFloat(this.matmul(x, name, weight, inWidth));
    if (bias !== undefined) product = b.op('Add', [product, b.initializer(`${name}.bias`, 'float', [outWidth], bias)]);
    return { delta: b.op('Mul', [product, mod.parts[gateIndex] as string]) };
  }
}
