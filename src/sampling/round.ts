/**
 * The sampler contract. A sample is generated round by round (one round without semi-AR, one
 * per stride with it); a round is a process that plans steps, and a step says which positions
 * take a drawn token and which go back to the mask. The SequenceSampler runs any round: it
 * turns a planned step into a pass row when the step needs the model, applies what comes back
 * and moves on. A sampler is a name and a RoundFactory (the table in rounds.ts); a family may
 * bring rounds of its own (SamplingParams.rounds).
 */
import type { SeededRandom } from '../random.js';
import type { RowResult } from '../runtime/index.js';
import type { TimeGrid } from './time-grid.js';
import type { SamplingParams } from './types.js';

/** A step of a round that changes something: positions to draw at (a pass), positions to remask (none needed). */
export interface PlannedStep {
  step: number;
  /** Output positions that take a drawn token at this step, whatever they hold now. */
  positions: number[];
  /** Output positions that go back to the mask. */
  remasked: number[];
  /** Whether the step needs a forward pass (ddpm passes even when nothing unmasks). */
  needsPass: boolean;
  /** Noise removal: the argmax instead of a draw. */
  greedy: boolean;
  /** No token drawn so far can change again at this step or later ones in the round; always true for samplers that never remask. */
  settled: boolean;
}

/** One round of a sampler: its steps, planned one at a time as the sample reaches them. */
export interface RoundProcess {
  /** The next step that changes something (or needs a pass), with what is random about it drawn; undefined when the round is over. */
  next(): PlannedStep | undefined;
  /** Which of a step's draws take effect, when the model decides it (SEDD); all of them when absent. */
  kept?(planned: PlannedStep, draws: RowResult['draws']): boolean[];
}

/** What a round reads of the sample as it begins. The canvas changes under it as steps are applied; rounds only read it. */
export interface RoundStart {
  /** The round's window over the output: positions [start, start + length). */
  window: { start: number; length: number };
  grid: TimeGrid;
  /** The whole output as it is now. */
  canvas: Int32Array;
  maskId: number;
  vocabSize: number;
  /** The probability each position's token was drawn with (remdm-conf's confidence). */
  confidence: Float64Array;
  /** The sample's own stream: a round draws from it in an order that depends on this sample alone. */
  random: SeededRandom;
  params: SamplingParams;
}

export type RoundFactory = (start: RoundStart) => RoundProcess;

/** The positions of the round's window that hold the mask: what a masked-diffusion round generates. */
export function maskedPositions({ window, canvas, maskId }: RoundStart): number[] {
  const masked: number[] = [];
  for (let p = window.start; p < window.start + window.length; p++) if (canvas[p] === maskId) masked.push(p);
  return masked;
}
