import { TIMESTEP_FEATURES } from '../../checkpoint/index.js';
import { DitNetwork, type Modulation, chunks, linear, silu, transposeForMatMul } from '../../model/index.js';

/** The MDLM network of spec §2 (the seed's DIT): the DIT blocks under adaLN modulation from the sigma embedding. */
export class MdlmModel extends DitNetwork {
  protected readonly causal = false;
  private conditioning: { kind: 'constant'; c: Float64Array } | { kind: 'graph'; c: string } = { kind: 'constant', c: new Float64Array(0) };
  private sigma = '';

  protected prepareInputs(): void {
    if (this.config.time_conditioning) this.sigma = this.b.input('sigma', 'float', ['batch']);
    this.conditioning = this.config.time_conditioning ? { kind: 'graph', c: this.conditioningGraph() } : { kind: 'constant', c: this.conditioningConstant() };
  }

  // --- conditioning ---------------------------------------------------------------------

  /** c = SiLU(mlp.2(SiLU(mlp.0(t_freq(0))))) evaluated once: sigma is always zero without time conditioning. */
  private conditioningConstant(): Float64Array {
    const half = TIMESTEP_FEATURES / 2;
    const tFreq = new Float64Array(TIMESTEP_FEATURES);
    tFreq.fill(1, 0, half); // cos(0) = 1, sin(0) = 0
    const w = (name: string) => this.checkpoint.weight(`sigma_map.${name}`);
    const hidden = silu(linear(w('mlp.0.weight'), w('mlp.0.bias'), tFreq));
    return silu(linear(w('mlp.2.weight'), w('mlp.2.bias'), hidden));
  }

  private conditioningGraph(): string {
    const { b } = this;
    return b.scoped('sigma_map', () => {
      const half = TIMESTEP_FEATURES / 2;
      const freqs = Array.from({ length: half }, (_, j) => Math.exp((-Math.log(10000) * j) / half));
      const args = b.op('Mul', [b.op('Unsqueeze', [this.sigma, b.int64s('axis1', [1])]), b.floats('freqs', freqs, [1, half])]);
      const tFreq = b.op('Concat', [b.op('Cos', [args]), b.op('Sin', [args])], { attributes: { axis: 1 } });
      const hidden = this.silu(this.denseLinear(tFreq, 'sigma_map.mlp.0', TIMESTEP_FEATURES));
      return this.silu(this.denseLinear(hidden, 'sigma_map.mlp.2', this.config.cond_dim));
    });
  }

  protected modulation(prefix: string, count: number): Modulation {
    const weight = this.checkpoint.weight(`${prefix}.adaLN_modulation.weight`);
    const bias = this.checkpoint.weight(`${prefix}.adaLN_modulation.bias`);
    if (this.conditioning.kind === 'constant') {
      return { kind: 'constant', parts: chunks(linear(weight, bias, this.conditioning.c), count) };
    }
    const { b } = this;
    const modulations = b.op('Add', [
      b.op('MatMul', [this.conditioning.c, b.initializer('adaLN.weight', 'float', [this.config.cond_dim, count * this.D], transposeForMatMul(weight, this.config.cond_dim))]),
      b.initializer('adaLN.bias', 'float', [count * this.D], bias),
    ]);
    const perRow = b.op('Unsqueeze', [modulations, b.int64s('axis1', [1])]);
    const parts = b.node('Split', [perRow], { outputs: count, attributes: { axis: 2, num_outputs: count } });
    return { kind: 'graph', parts };
  }

  private silu(x: string): string {
    return this.b.op('Mul', [x, this.b.op('Sigmoid', [x])]);
  }

  /** A small float32 linear layer (the conditioning MLP), weights kept in full precision. */
  private denseLinear(x: string, prefix: string, inWidth: number): string {
    const { b } = this;
    const weight = this.checkpoint.weight(`${prefix}.weight`);
    const product = b.op('MatMul', [x, b.initializer(`${prefix}.weight`, 'float', [inWidth, weight.length / inWidth], transposeForMatMul(weight, inWidth))]);
    return b.op('Add', [product, b.initializer(`${prefix}.bias`, 'float', [weight.length / inWidth], this.checkpoint.weight(`${prefix}.bias`))]);
  }
}
