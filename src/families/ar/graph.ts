import { DitNetwork, type Modulation } from '../../model/index.js';

/** The logit the seed's AR model writes at the mask token (models/autoregressive.py): never predicted. */
const AR_MASK_LOGIT = -1000;

/**
 * The seed's autoregressive baseline (models/autoregressive.py, `backbone: ar`): the DIT
 * blocks with causal attention and no conditioning at all (no sigma map, no adaLN), and an
 * output layer whose mask logit is set to −1000. Both heads apply with the causal contract
 * of heads.ts: the entry at position p is the distribution of the token at p + 1.
 */
export class ArModel extends DitNetwork {
  protected readonly causal = true;

  protected prepareInputs(): void {
    // The AR network takes token ids alone.
  }

  /** No modulation: shift 0, scale 0 and gate 1 fold into the norms and weights as they are. */
  protected modulation(_prefix: string, count: number): Modulation {
    const identity = (part: number) => new Float64Array(this.D).fill(part % 3 === 2 ? 1 : 0);
    return { kind: 'constant', parts: Array.from({ length: count }, (_, part) => identity(part)) };
  }

  /**
   * The seed assigns −1000 to the mask logit after the output layer; with the mask's weight
   * row zeroed and its bias −1000, the output layer itself computes exactly that.
   */
  protected override outputLayer(): { weight: Float32Array; bias: Float32Array } {
    const weight = this.checkpoint.weight('output_layer.linear.weight').slice();
    const bias = this.checkpoint.weight('output_layer.linear.bias').slice();
    weight.fill(0, this.maskIndex * this.D, (this.maskIndex + 1) * this.D);
    bias[this.maskIndex] = AR_MASK_LOGIT;
    return { weight, bias };
  }
}
