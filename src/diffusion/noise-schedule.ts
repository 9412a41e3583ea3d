/**
 * The seed's log-linear noise schedule (spec §4): a diffusion fact that sampling (the network's
 * sigma input, the unmasking law) and scoring (the NELBO's corruption and weights) both read.
 * α(t) = 1 − (1 − ε)·t with ε = 1e-3, so the total noise is σ(t) = −log α(t).
 */
const SCHEDULE_EPS = 1e-3;

/** The probability that a token is masked at time t: 1 − e^(−sigma(t)) = (1 − 1e-3)·t. */
export function maskProbability(t: number): number {
  return (1 - SCHEDULE_EPS) * t;
}

/** Total noise sigma(t) = −log(1 − (1 − 1e-3)·t), the network's input when time-conditioned. */
export function totalNoise(t: number): number {
  return -Math.log1p(-(1 - SCHEDULE_EPS) * t);
}

/** dσ/dt of the log-linear schedule, (1 − 1e-3)/(1 − (1 − 1e-3)·t): the weight of SEDD's loss. */
export function noiseRate(t: number): number {
  return (1 - SCHEDULE_EPS) / (1 - (1 - SCHEDULE_EPS) * t);
}
