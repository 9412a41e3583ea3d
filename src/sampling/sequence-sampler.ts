import { totalNoise } from '../diffusion/index.js';
import type { SeededRandom } from '../random.js';
import type { PassRow, RowResult } from '../runtime/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { CanvasLayout } from './canvas-layout.js';
import type { PlannedStep, RoundProcess } from './round.js';
import { roundsOf } from './rounds.js';
import { TimeGrid } from './time-grid.js';
import { DEFAULT_EPS, type SamplingModel, type SamplingParams, type StepEvent } from './types.js';

/** A sample being generated, as its consumer reads it once the scheduler has finished it. */
export interface SampleSequence extends Sequence {
  /** The whole output: fixed and generated tokens. */
  readonly canvas: Int32Array;
  /** The model's log-probability of each generated token when it was drawn (NaN for fixed tokens). */
  readonly logprobs: Float32Array;
  /** The model's most likely alternatives at each position when its token was drawn: topWidth per position. */
  readonly topTokens: Int32Array;
  readonly topLogprobs: Float32Array;
  readonly topWidth: number;
  readonly forwardPasses: number;
}

/**
 * One sample being generated: its tokens, the process of the current round, and the row its
 * next step needs. Steps that only remask need no pass and are applied as they come.
 * Everything random comes from the sample's own stream, in an order that depends only on
 * this sample, so its output is the same alone or batched.
 */
export class SequenceSampler implements SampleSequence {
  readonly canvas: Int32Array;
  /** The model's log-probability of each generated token when it was drawn (NaN for fixed tokens). */
  readonly logprobs: Float32Array;
  /** The model's most likely alternatives at each position when its token was drawn: topWidth per position. */
  topTokens = new Int32Array(0);
  topLogprobs = new Float32Array(0);
  topWidth = 0;
  readonly layout: CanvasLayout;
  forwardPasses = 0;

  private readonly grid: TimeGrid;
  /** The probability each token was drawn with: remdm-conf's confidence. */
  private readonly confidence: Float64Array;
  private round = 0;
  private process: RoundProcess | undefined;
  private pending: { step: PlannedStep; row: PassRow } | undefined;
  private inFlight: { step: PlannedStep; row: PassRow } | undefined;

  /** `random` is this sample's own stream (see SeededRandom.streams). */
  constructor(
    private readonly params: SamplingParams,
    private readonly model: SamplingModel,
    private readonly random: SeededRandom,
    private readonly onStep: (event: StepEvent) => void = () => undefined,
  ) {
    this.layout = params.layout;
    this.canvas = params.initial.slice();
    this.logprobs = new Float32Array(this.layout.totalLength).fill(Number.NaN);
    this.confidence = new Float64Array(this.layout.totalLength);
    // Semi-autoregressive rounds run on the eps = 0 grid, as the seed does: nothing is left for noise removal.
    this.grid = new TimeGrid(params.steps, this.layout.stride === 0 ? (params.eps ?? DEFAULT_EPS) : 0);
    // The first round's first steps can only unmask (nothing is unmasked yet), so no event precedes the first pass.
    this.advance();
  }

  get windowLength(): number {
    return this.layout.windowLength;
  }

  get finished(): boolean {
    return this.pending === undefined && this.inFlight === undefined;
  }

  /** Steps of the reverse process this sample walks through, over all rounds. */
  get totalSteps(): number {
    return this.params.steps * this.layout.rounds;
  }

  peekRow(): PassRow | undefined {
    return this.pending?.row;
  }

  takeRow(): PassRow {
    const pending = this.pending;
    if (pending === undefined) throw new Error('takeRow() without a ready row');
    this.pending = undefined;
    this.inFlight = pending;
    return pending.row;
  }

  apply(_row: PassRow, result: RowResult): void {
    const flight = this.inFlight;
    if (flight === undefined) throw new Error('apply() without a row in flight');
    this.inFlight = undefined;
    this.forwardPasses += 1;
    this.commit(flight.step, result, this.process?.kept?.(flight.step, result.draws));
    this.advance();
  }

  /** Moves to the next step that needs a pass, across rounds, applying the remask-only steps on the way. */
  private advance(): void {
    while (this.round < this.layout.rounds) {
      const step = (this.process ??= this.startRound()).next();
      if (step === undefined) {
        this.round += 1;
        this.process = undefined;
      } else if (step.needsPass) {
        this.pending = { step, row: this.row(step) };
        return;
      } else {
        this.commit(step, undefined);
      }
    }
  }

  /** Applies a step: the tokens its pass drew (if any; only those `kept`), then its remasks; tells the consumer when anything changed. */
  private commit(planned: PlannedStep, result: RowResult | undefined, kept?: boolean[]): void {
    const { step, draws } = kept === undefined ? { step: planned, draws: result?.draws } : keptDraws(planned, (result as RowResult).draws, kept);
    const { positions, remasked } = step;
    const tokens = draws === undefined ? [] : Array.from(draws.tokens);
    const logprobs = draws === undefined ? [] : Array.from(draws.logprobs);
    if (draws !== undefined && positions.length > 0) {
      this.recordAlternatives(positions, draws.topTokens, draws.topLogprobs, draws.topWidth);
      positions.forEach((position, k) => {
        this.canvas[position] = tokens[k] as number;
        this.logprobs[position] = logprobs[k] as number;
        this.confidence[position] = Math.exp(draws.sampledLogprobs[k] as number);
      });
    }
    for (const position of remasked) this.canvas[position] = this.model.maskId;
    if (positions.length === 0 && remasked.length === 0) return;
    const top = draws === undefined ? { tokens: [], logprobs: [], width: 0 } : { tokens: Array.from(draws.topTokens), logprobs: Array.from(draws.topLogprobs), width: draws.topWidth };
    this.onStep({
      round: this.round,
      step: step.step,
      t: this.grid.time(step.step),
      forwardPasses: this.forwardPasses,
      positions: [...positions],
      tokens,
      logprobs,
      top,
      remasked: [...remasked],
      settled: step.settled,
    });
  }

  private startRound(): RoundProcess {
    return roundsOf(this.params)({
      window: { start: this.round * this.layout.stride, length: this.layout.windowLength },
      grid: this.grid,
      canvas: this.canvas,
      maskId: this.model.maskId,
      vocabSize: this.model.vocabSize,
      confidence: this.confidence,
      random: this.random,
      params: this.params,
    });
  }

  private row(planned: PlannedStep): PassRow {
    const windowStart = this.round * this.layout.stride;
    const t = this.grid.time(planned.step);
    const finalPass = planned.step === this.grid.steps;
    const entryOffset = this.params.entryOffset ?? 0;
    return {
      // A view: the canvas does not change while the row is in flight.
      tokens: this.canvas.subarray(windowStart, windowStart + this.layout.windowLength),
      // The seed feeds sigma = 0 to the greedy pass that closes a semi-autoregressive round.
      sigma: this.model.timeConditioned && !(finalPass && this.grid.eps === 0) ? totalNoise(t) : 0,
      draws: {
        positions: Int32Array.from(planned.positions, (p) => p - windowStart - entryOffset),
        uniforms: Float64Array.from(planned.positions, () => this.random.uniformPositive()),
        temperature: planned.greedy ? 0 : this.params.temperature,
        topP: this.params.topP,
        topK: this.params.topK,
      },
    };
  }

  private recordAlternatives(positions: readonly number[], tokens: Int32Array, logprobs: Float32Array, width: number): void {
    if (this.topWidth !== width) {
      this.topWidth = width;
      this.topTokens = new Int32Array(this.layout.totalLength * width);
      this.topLogprobs = new Float32Array(this.layout.totalLength * width).fill(Number.NaN);
    }
    positions.forEach((position, k) => {
      this.topTokens.set(tokens.subarray(k * width, (k + 1) * width), position * width);
      this.topLogprobs.set(logprobs.subarray(k * width, (k + 1) * width), position * width);
    });
  }
}

/** The step and its draws restricted to the positions whose draws are kept. */
function keptDraws(planned: PlannedStep, draws: RowResult['draws'], kept: boolean[]): { step: PlannedStep; draws: RowResult['draws'] } {
  const pick = <T extends Int32Array | Float32Array>(values: T, width = 1): T => {
    const chosen = kept.flatMap((keep, k) => (keep ? Array.from(values.subarray(k * width, (k + 1) * width)) : []));
    return (values instanceof Int32Array ? Int32Array.from(chosen) : Float32Array.from(chosen)) as T;
  };
  return {
    step: { ...planned, positions: planned.positions.filter((_, k) => kept[k]) },
    draws: {
      tokens: pick(draws.tokens),
      sampledLogprobs: pick(draws.sampledLogprobs),
      logprobs: pick(draws.logprobs),
      logsumexp: pick(draws.logsumexp),
      topTokens: pick(draws.topTokens, draws.topWidth),
      topLogprobs: pick(draws.topLogprobs, draws.topWidth),
      topWidth: draws.topWidth,
    },
  };
}
