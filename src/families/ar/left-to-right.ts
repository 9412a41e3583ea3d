import { type PlannedStep, type RoundFactory, type RoundProcess, maskedPositions } from '../../sampling/index.js';

/** The AR baseline's procedure: what an AR model runs, never a sampler a request names. */
export const LEFT_TO_RIGHT = 'left-to-right';

/**
 * The AR baseline's sampler (the seed's `_ar_sampler`): one token per step, left to right,
 * each drawn from the causal conditional given every token before it. Each step is one pass
 * over the whole window with one draw; there is no KV cache, so a token costs a full pass.
 */
class LeftToRightRound implements RoundProcess {
  private step = 0;

  /** `positions`: the masked positions of the output, in order. */
  constructor(private readonly positions: readonly number[]) {}

  next(): PlannedStep | undefined {
    const position = this.positions[this.step];
    if (position === undefined) return undefined;
    return { step: this.step++, positions: [position], remasked: [], needsPass: true, greedy: false, settled: true };
  }
}

/** The masked positions of the window, left to right. */
export const leftToRightRounds: RoundFactory = (start) => new LeftToRightRound(maskedPositions(start));
