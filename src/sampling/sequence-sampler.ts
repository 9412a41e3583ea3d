import type { SeededRandom } from '../random.js';
import type { PassRow, RowResult } from '../runtime/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { CanvasLayout } from './canvas-layout.js';
import { RoundPlan, type UnmaskGroup } from './round-plan.js';
import { TimeGrid, totalNoise } from './time-grid.js';
import { DEFAULT_EPS, type ModelFacts, type SamplingParams, type StepEvent } from './types.js';

/** A step that needs a forward pass: the positions that take a token there. */
interface PlannedStep {
  step: number;
  /** Output positions to draw at (empty for a ddpm step that unmasks nothing). */
  positions: number[];
}

/**
 * One sample being generated: its tokens, the plan of the current round, and the row its
 * next step needs. Everything random comes from the sample's own stream, in an order that
 * depends only on this sample, so its output is the same alone or batched.
 */
export class SequenceSampler implements Sequence {
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
  private round = 0;
  private plan: RoundPlan | undefined;
  private groupIndex = 0;
  /** ddpm only: the step whose pass comes next (steps = the final greedy pass). */
  private ddpmStep = 0;
  private pending: { step: PlannedStep; row: PassRow } | undefined;
  private inFlight: { step: PlannedStep; row: PassRow } | undefined;

  /** `random` is this sample's own stream (see SeededRandom.streams). */
  constructor(
    private readonly params: SamplingParams,
    private readonly facts: ModelFacts,
    private readonly random: SeededRandom,
    private readonly onStep: (event: StepEvent) => void = () => undefined,
  ) {
    this.layout = params.layout;
    this.canvas = params.initial.slice();
    this.logprobs = new Float32Array(this.layout.totalLength).fill(Number.NaN);
    // Semi-autoregressive rounds run on the eps = 0 grid, as the seed does: nothing is left for noise removal.
    this.grid = new TimeGrid(params.steps, this.layout.stride === 0 ? (params.eps ?? DEFAULT_EPS) : 0);
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
    const { positions } = flight.step;
    if (positions.length > 0) {
      const { draws } = result;
      this.recordAlternatives(positions, draws.topTokens, draws.topLogprobs, draws.topWidth);
      const tokens = Array.from(draws.tokens);
      const logprobs = Array.from(draws.logprobs);
      positions.forEach((position, k) => {
        this.canvas[position] = tokens[k] as number;
        this.logprobs[position] = logprobs[k] as number;
      });
      const top = { tokens: Array.from(draws.topTokens), logprobs: Array.from(draws.topLogprobs), width: draws.topWidth };
      this.onStep({ round: this.round, step: flight.step.step, t: this.grid.time(flight.step.step), forwardPasses: this.forwardPasses, positions: [...positions], tokens, logprobs, top, remasked: [] });
    }
    this.advance();
  }

  /** Moves to the next step that needs a pass, across rounds; none left means finished. */
  private advance(): void {
    while (this.round < this.layout.rounds) {
      const step = this.nextStep();
      if (step !== undefined) {
        this.pending = { step, row: this.row(step) };
        return;
      }
      this.round += 1;
      this.plan = undefined;
      this.groupIndex = 0;
      this.ddpmStep = 0;
    }
  }

  private nextStep(): PlannedStep | undefined {
    const plan = (this.plan ??= this.planRound());
    const group: UnmaskGroup | undefined = plan.groups[this.groupIndex];
    if (this.params.sampler === 'ddpm_cache') {
      if (group === undefined) return undefined;
      this.groupIndex += 1;
      return { step: group.step, positions: group.positions };
    }
    if (this.ddpmStep > this.grid.steps) return undefined;
    const step = this.ddpmStep++;
    if (group?.step !== step) return { step, positions: [] };
    this.groupIndex += 1;
    return { step, positions: group.positions };
  }

  private planRound(): RoundPlan {
    const start = this.round * this.layout.stride;
    const masked: number[] = [];
    for (let p = start; p < start + this.layout.windowLength; p++) if (this.canvas[p] === this.facts.maskId) masked.push(p);
    return new RoundPlan(this.grid, masked, this.random);
  }

  private row(planned: PlannedStep): PassRow {
    const windowStart = this.round * this.layout.stride;
    const finalPass = planned.step === this.grid.steps;
    const t = this.grid.time(planned.step);
    return {
      // A view: the canvas does not change while the row is in flight.
      tokens: this.canvas.subarray(windowStart, windowStart + this.layout.windowLength),
      // The seed feeds sigma = 0 to the greedy pass that closes a semi-autoregressive round.
      sigma: this.facts.timeConditioned && !(finalPass && this.grid.eps === 0) ? totalNoise(t) : 0,
      draws: {
        positions: Int32Array.from(planned.positions, (p) => p - windowStart),
        uniforms: Float64Array.from(planned.positions, () => this.random.uniformPositive()),
        temperature: finalPass ? 0 : this.params.temperature,
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
