import type { PlannedStep } from './remasking.js';

/**
 * The AR baseline's sampler (the seed's `_ar_sampler`): one token per step, left to right,
 * each drawn from the causal conditional given every token before it. Each step is one pass
 * over the whole window with one draw; there is no KV cache, so a token costs a full pass.
 */
export class LeftToRightRound {
  private step = 0;

  /** `positions`: the masked positions of the output, in order. */
  constructor(private readonly positions: readonly number[]) {}

  next(): PlannedStep | undefined {
    const position = this.positions[this.step];
    if (position === undefined) return undefined;
    return { step: this.step++, positions: [position], remasked: [], needsPass: true, greedy: false, settled: true };
  }
}
