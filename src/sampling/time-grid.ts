/** The log-linear schedule's noise floor (spec §4): the mask probability at t is (1 − 1e-3)·t. */
const SCHEDULE_EPS = 1e-3;

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

/** The probability that a token is masked at time t: 1 − e^(−sigma(t)) = (1 − 1e-3)·t. */
export function maskProbability(t: number): number {
  return (1 - SCHEDULE_EPS) * t;
}

/** Total noise sigma(t) = −log(1 − (1 − 1e-3)·t), the network's input when time-conditioned. */
export function totalNoise(t: number): number {
  return -Math.log1p(-(1 - SCHEDULE_EPS) * t);
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

/** dσ/dt of the log-linear schedule, (1 − 1e-3)/(1 − (1 − 1e-3)·t): the weight of SEDD's loss. */
export function noiseRate(t: number): number {
  return (1 - SCHEDULE_EPS) / (1 - (1 - SCHEDULE_EPS) * t);
}
