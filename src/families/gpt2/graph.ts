import { type ExportHead, type GraphBuilder, type Residual, TransformerLayers, type WeightDtype, buildHead } from '../../model/index.js';
import type { Gpt2Checkpoint } from './checkpoint.js';
import { type Gpt2Config, gpt2HeadWidth, gpt2InnerWidth } from './config.js';

export interface Gpt2GraphOptions {
  head: ExportHead;
  dtype: WeightDtype;
  /** onnxruntime's contrib operators (MultiHeadAttention, FastGelu). */
  fused: boolean;
}

/**
 * GPT-2 (spec §10), built into a GraphBuilder from a Hugging Face checkpoint's named weights:
 * learned positions, pre-LN blocks with biased norms, causal attention, gelu_new, and an
 * output layer tied to the token embedding. Conv1D weights are stored [in, out], which is
 * already MatMul's order.
 *
 * Both heads apply: for a causal LM the head's entry at position p is the distribution of the
 * token at p + 1 given the tokens at positions ≤ p, and there is no mask token.
 */
export class Gpt2Model {
  private readonly config: Gpt2Config;
  private readonly D: number;
  private readonly layers: TransformerLayers;
  /** The token embedding [V, D] in the compute type: the input table and, tied, the output layer. */
  private embedding = '';

  constructor(
    private readonly b: GraphBuilder,
    private readonly checkpoint: Gpt2Checkpoint,
    private readonly options: Gpt2GraphOptions,
  ) {
    this.config = checkpoint.config;
    this.D = this.config.n_embd;
    this.layers = new TransformerLayers(b, { dtype: options.dtype, fused: options.fused, layerNormEpsilon: this.config.layer_norm_epsilon });
  }

  build(): void {
    const { b, config } = this;
    const inputIds = b.input('input_ids', 'int64', ['batch', 'length']);
    let residual: Residual = { stream: this.embed(inputIds) };
    for (let i = 0; i < config.n_layer; i++) {
      residual = b.scoped(`h.${i}`, () => this.block(i, residual));
    }
    const features = b.scoped('ln_f', () => this.norm(residual, 'ln_f').normed);
    buildHead(b, this.options.head, {
      features,
      width: this.D,
      vocabSize: config.vocab_size,
      maskIndex: undefined,
      project: (rows) => b.scoped('lm_head', () => this.outputLayer(rows)),
    });
  }

  /** wte[ids] + wpe[0..L): token and position embeddings, float32. */
  private embed(inputIds: string): string {
    const { b, config, layers } = this;
    // The tied output layer's Gemm packs wte into memory of the session's own; Gather reads its folded copy.
    this.embedding = b.initializer('wte.weight', layers.weightType, [config.vocab_size, this.D], this.checkpoint.weight('wte.weight'), 'data-file');
    const tokens = layers.toFloat(b.op('Gather', [layers.sessionCopy(this.embedding), inputIds], { attributes: { axis: 0 } }));
    const table = b.initializer('wpe.weight', 'float', [config.n_positions, this.D], this.checkpoint.weight('wpe.weight'));
    const length = b.op('Shape', [inputIds], { attributes: { start: 1, end: 2 } });
    const positions = b.op('Slice', [table, b.int64s('zero', [0]), length, b.int64s('axis0', [0])]);
    return b.op('Add', [tokens, positions]);
  }

  private block(index: number, residual: Residual): Residual {
    const { b, layers } = this;
    const w = (name: string) => this.checkpoint.weight(`h.${index}.${name}`);
    const heads = this.config.n_head;

    const attnIn = this.norm(residual, 'ln_1', `h.${index}.`);
    const qkv = b.op('Add', [layers.matmul(layers.toCompute(attnIn.normed), 'attn.c_attn', w('attn.c_attn.weight'), this.D), this.vector('attn.c_attn.bias', w('attn.c_attn.bias'), layers.weightType)]);
    const [q, k, v] = b.node('Split', [qkv], { outputs: 3, attributes: { axis: 2, num_outputs: 3 } }) as [string, string, string];
    const attention = layers.attention(q, k, v, heads, gpt2HeadWidth(this.config), true);
    const attnOut = this.projection(attention, 'attn.c_proj', w('attn.c_proj.weight'), w('attn.c_proj.bias'), this.D);

    const mlpIn = this.norm({ stream: attnIn.stream, pending: attnOut }, 'ln_2', `h.${index}.`);
    const up = layers.matmul(layers.toCompute(mlpIn.normed), 'mlp.c_fc', w('mlp.c_fc.weight'), this.D);
    const activated = layers.geluTanh(up, this.vector('mlp.c_fc.bias', w('mlp.c_fc.bias'), layers.weightType));
    return { stream: mlpIn.stream, pending: this.projection(activated, 'mlp.c_proj', w('mlp.c_proj.weight'), w('mlp.c_proj.bias'), gpt2InnerWidth(this.config)) };
  }

  /** LayerNorm with GPT-2's learned weight and bias, after adding what the residual has pending. */
  private norm(residual: Residual, name: string, prefix = ''): { normed: string; stream: string } {
    const gamma = this.vector(`${name}.weight`, this.checkpoint.weight(`${prefix}${name}.weight`), 'float');
    const beta = this.vector(`${name}.bias`, this.checkpoint.weight(`${prefix}${name}.bias`), 'float');
    return this.layers.layerNorm(residual, gamma, beta);
  }

  /** x·W + b as a pending residual update: the product back in float32, the bias left for the next norm to add. */
  private projection(x: string, name: string, weight: Float32Array, bias: Float32Array, inWidth: number): { delta: string; bias: string } {
    return { delta: this.layers.toFloat(this.layers.matmul(x, name, weight, inWidth)), bias: this.vector(`${name}.bias`, bias, 'float') };
  }

  /** A one-dimensional parameter (norm weight or bias). */
  private vector(name: string, values: Float32Array, type: 'float' | 'float16'): string {
    return this.b.initializer(name, type, [values.length], values);
  }

  /** Rows [..., D] → logits [..., V] = rows·wteᵀ (tied, no bias), float32; Gemm reads wte transposed in place. */
  private outputLayer(rows: string): string {
    const { b, layers } = this;
    const flat = b.op('Reshape', [rows, b.int64s('rows_shape', [-1, this.D])]);
    const logits = layers.toFloat(b.op('Gemm', [layers.toCompute(flat), this.embedding], { attributes: { transB: 1 } }));
    const shape = b.op('Concat', [b.op('Shape', [rows], { attributes: { end: -1 } }), b.int64s('vocab', [this.config.vocab_size])], { attributes: { axis: 0 } });
    return b.op('Reshape', [logits, shape]);
  }
}
