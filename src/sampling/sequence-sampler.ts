import type { SeededRandom } from '../random.js';
import { type CanvasLayout, canvasLayout } from './canvas-layout.js';
import { RoundPlan, type UnmaskGroup } from './round-plan.js';
import { TimeGrid, totalNoise } from './time-grid.js';
import { DEFAULT_EPS, type ModelFacts, type PassRequest, type SamplingParams, type StepEvent } from './types.js';

/**
 * One sample being generated: its tokens, the plan of the current round, and the next
 * forward pass it needs. Everything random comes from the sample's own stream, in an order
 * that depends only on this sample, so its output is the same alone or batched.
 */
export class SequenceSampler {
  readonly canvas: Int32Array;
  /** Log-probability each generated token was drawn with (NaN for prompt tokens). */
  readonly logprobs: Float32Array;
  readonly layout: CanvasLayout;
  forwardPasses = 0;

  private readonly grid: TimeGrid;
  private round = 0;
  private plan: RoundPlan | undefined;
  private groupIndex = 0;
  /** ddpm only: the step whose pass comes next (steps = the final greedy pass). */
  private ddpmStep = 0;
  private inFlight: { request: PassRequest; group: UnmaskGroup | undefined } | undefined;

  /** `random` is this sample's own stream (see SeededRandom.streams). */
  constructor(
    private readonly params: SamplingParams,
    private readonly facts: ModelFacts,
    private readonly random: SeededRandom,
  ) {
    this.layout = canvasLayout(params, facts);
    this.canvas = new Int32Array(this.layout.totalLength).fill(facts.maskId);
    this.canvas.set(params.prefix, 0);
    this.canvas.set(params.suffix, this.layout.totalLength - params.suffix.length);
    this.logprobs = new Float32Array(this.layout.totalLength).fill(Number.NaN);
    // Semi-autoregressive rounds run on the eps = 0 grid, as the seed does: nothing is left for noise removal.
    this.grid = new TimeGrid(params.steps, params.semiAr === undefined ? (params.eps ?? DEFAULT_EPS) : 0);
  }

  get done(): boolean {
    return this.round >= this.layout.rounds;
  }

  /** Steps of the reverse process this sample walks through, over all rounds. */
  get totalSteps(): number {
    return this.params.steps * this.layout.rounds;
  }

  /** The next forward pass, or undefined when the sample is complete. */
  nextPass(): PassRequest | undefined {
    if (this.inFlight !== undefined) return this.inFlight.request;
    while (!this.done) {
      const plan = (this.plan ??= this.planRound());
      const group = this.params.sampler === 'ddpm_cache' ? plan.groups[this.groupIndex] : this.ddpmGroup(plan);
      const step = this.params.sampler === 'ddpm_cache' ? group?.step : this.ddpmStep <= this.grid.steps ? this.ddpmStep : undefined;
      if (step !== undefined) {
        this.inFlight = { request: this.passRequest(step, group?.positions ?? []), group };
        return this.inFlight.request;
      }
      this.advanceRound();
    }
    return undefined;
  }

  /** Applies the tokens drawn for the pass from nextPass(); returns the step event if anything changed. */
  applyPass(tokens: ArrayLike<number | bigint>, logprobs: ArrayLike<number>): StepEvent | undefined {
    const pass = this.inFlight;
    if (pass === undefined) throw new Error('applyPass() without a pass in flight');
    this.inFlight = undefined;
    this.forwardPasses += 1;
    if (pass.group !== undefined) this.groupIndex += 1;
    if (this.params.sampler === 'ddpm') this.ddpmStep += 1;
    const positions = pass.group?.positions ?? [];
    if (positions.length === 0) return undefined;
    const drawn = positions.map((position, k) => {
      const token = Number(tokens[k]);
      this.canvas[position] = token;
      this.logprobs[position] = logprobs[k] as number;
      return token;
    });
    const { round, step, t } = pass.request;
    return { round, step, t, forwardPasses: this.forwardPasses, positions: [...positions], tokens: drawn };
  }

  private planRound(): RoundPlan {
    const start = this.round * this.layout.stride;
    const masked: number[] = [];
    for (let p = start; p < start + this.layout.windowLength; p++) if (this.canvas[p] === this.facts.maskId) masked.push(p);
    return new RoundPlan(this.grid, masked, this.random);
  }

  private ddpmGroup(plan: RoundPlan): UnmaskGroup | undefined {
    const group = plan.groups[this.groupIndex];
    return group?.step === this.ddpmStep ? group : undefined;
  }

  private advanceRound(): void {
    this.round += 1;
    this.plan = undefined;
    this.groupIndex = 0;
    this.ddpmStep = 0;
  }

  private passRequest(step: number, positions: readonly number[]): PassRequest {
    const windowStart = this.round * this.layout.stride;
    const finalPass = step === this.grid.steps;
    const t = this.grid.time(step);
    return {
      windowStart,
      windowLength: this.layout.windowLength,
      positions: Int32Array.from(positions, (p) => p - windowStart),
      uniforms: Float64Array.from(positions, () => this.random.uniformPositive()),
      temperature: finalPass ? 0 : this.params.temperature,
      // The seed feeds sigma = 0 to the greedy pass that closes a semi-autoregressive round.
      sigma: this.facts.timeConditioned && !(finalPass && this.grid.eps === 0) ? totalNoise(t) : 0,
      round: this.round,
      step,
      t,
    };
  }
}
