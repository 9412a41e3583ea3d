/**
 * The seed's time grid t_i = linspace(1, eps, T + 1). Step i goes from t_i to t_{i+1}; a
 * masked position unmasks at step i with probability (t_i − t_{i+1}) / t_i.
 */
export class TimeGrid {
  readonly steps: number;
  readonly eps: number;
  private readonly delta: number;

  constructor(steps: number, eps: number) {
    this.steps = steps;
    this.eps = eps;
    this.delta = (1 - eps) / steps;
  }

  time(step: number): number {
    return step === this.steps ? this.eps : 1 - step * this.delta;
  }

  /**
   * First hitting time of a position whose survival draw is u ∈ (0, 1]: it stays masked
   * through step i exactly when u ≤ t_{i+1}, so it unmasks at the step i with
   * t_{i+1} < u ≤ t_i. Returns `steps` for u ≤ eps: still masked at the end (noise removal).
   */
  unmaskStep(u: number): number {
    if (u <= this.eps) return this.steps;
    // Rounding can push (1 − u)/Δ onto the next integer for u just above eps; it is still a real step.
    return Math.min(Math.floor((1 - u) / this.delta), this.steps - 1);
  }
}

/**
 * Expected forward passes of the first-hitting sampler for `masked` positions (spec §4):
 * step i needs a pass when at least one position unmasks there, each doing so with
 * probability Δ = (1 − eps)/T; noise removal needs one when any position survives (eps).
 */
export function expectedForwardPasses(masked: number, steps: number, eps: number): number {
  const delta = (1 - eps) / steps;
  return steps * -Math.expm1(masked * Math.log1p(-delta)) - Math.expm1(masked * Math.log1p(-eps));
}
