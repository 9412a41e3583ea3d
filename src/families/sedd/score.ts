/**
 * SEDD's score parameterization as the seed computes it (diffusion.py: `_sedd_parameterization`,
 * `get_score`, `_staggered_score`, `_transp_transition`; spec §11). At a masked position the
 * network's log score of token y ≠ mask is logit_y − log(e^σ − 1) − log(V − 1), and 0 at the
 * mask itself. Their sum is S = Σ_{y≠mask} score_y = exp(logsumexp − log(e^σ − 1) − log(V − 1)),
 * with logsumexp over the vocabulary without the mask (the positions head's).
 */
import { noiseRate, totalNoise } from '../../diffusion/index.js';
import type { MaskedLoss } from '../../scoring/index.js';

/** log(e^σ − 1) + log(V − 1): what SEDD subtracts from a logit to make it a log score. */
export function seddScoreShift(sigma: number, vocabSize: number): number {
  return Math.log(Math.expm1(sigma)) + Math.log(vocabSize - 1);
}

/** The chance that a masked position unmasks in the analytic step from σ_t to σ_s, given the positions head's logsumexp at σ_t. */
export function seddUnmaskProbability(sigmaT: number, sigmaS: number, logsumexp: number, vocabSize: number): number {
  return Math.min(1, Math.exp(Math.log(Math.expm1(sigmaT - sigmaS)) + logsumexp - seddScoreShift(sigmaT, vocabSize)));
}

/**
 * SEDD's score entropy at a masked position (the seed's `_score_entropy`), weighted by dσ/dt
 * as its `_forward_pass_diffusion` does: Σ_{y≠mask} score_y − q·log score_{x0} + q(log q − 1)
 * with q = 1/(e^σ − 1). The log score of y is its logit minus log(e^σ − 1) + log(V − 1), and
 * the target's logit is its logprob plus the logsumexp (mask excluded) the positions head gives.
 */
export function seddLoss(vocabSize: number): MaskedLoss {
  return (t, { logprob, logsumexp }) => {
    const sigma = totalNoise(t);
    const shift = seddScoreShift(sigma, vocabSize);
    const q = 1 / Math.expm1(sigma);
    return noiseRate(t) * (Math.exp(logsumexp - shift) - q * (logprob + logsumexp - shift) + q * (Math.log(q) - 1));
  };
}
