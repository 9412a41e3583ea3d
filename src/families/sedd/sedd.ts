import type { z } from 'zod';
import { refuseParam } from '../../errors.js';
import { openDitNetwork } from '../../model/index.js';
import { SCORE_METHODS } from '../../scoring/index.js';
import { denoiserScorer, ditManifestSchema, ditServedModel, framedPrompt, sequenceSample, timeConditionedArRefusal } from '../dit.js';
import type { ServingFamily } from '../family.js';
import { MdlmModel } from '../mdlm/index.js';
import { seddAnalyticRounds } from './analytic-round.js';
import { seddLoss } from './score.js';

/** The seed's manifests have always recorded SEDD as the MDLM network read another way. */
const TAG = { architecture: 'mdlm', parameterization: 'sedd' } as const;

const SeddManifestSchema = ditManifestSchema(TAG);
type SeddManifest = z.infer<typeof SeddManifestSchema>;

/** The one sampler SEDD's log scores have. */
const ANALYTIC = 'analytic';

/**
 * SEDD (spec §11): the MDLM network trained as SEDD's log scores, from a seed .ckpt with
 * parameterization sedd. Its own analytic sampler, its own loss in the NELBO (score entropy).
 */
export const SEDD_FAMILY: ServingFamily<SeddManifest> = {
  name: 'sedd',
  tag: TAG,
  manifestSchema: SeddManifestSchema,
  lightning: {
    claim: ({ backbone, parameterization, config }) => {
      if (backbone !== 'dit' || parameterization !== 'sedd') return undefined;
      // The seed's SEDD score divides by e^σ − 1 with the network's own σ.
      if (config.time_conditioning) return { served: true };
      return { refused: "cannot be served: the seed's SEDD score divides by e^σ − 1 with the network's σ, which is 0 without time_conditioning" };
    },
    open: (checkpoint, options) => openDitNetwork(checkpoint, MdlmModel, TAG, options),
  },
  serving: {
    model: ditServedModel('sedd'),
    generation: {
      samplers: [ANALYTIC],
      defaultSampler: ANALYTIC,
      head: framedPrompt,
      /** The seed's other samplers read SUBS probabilities, which SEDD's log scores are not, and its semi-autoregressive rounds are SUBS steps. */
      procedure: (request, { layout }, model) => {
        const sampler = request.sampler ?? ANALYTIC;
        if (sampler !== ANALYTIC) {
          const why = "the other samplers read SUBS probabilities, which SEDD's log scores are not";
          refuseParam('sampler', `a SEDD model samples with analytic, its own predictor (${why}), not ${sampler}`);
        }
        if (layout.rounds > 1) {
          refuseParam(
            request.semiAr === undefined ? 'max_tokens' : 'semi_ar',
            `the seed's semi-autoregressive rounds are SUBS (MDLM) steps; a SEDD model generates within its window of ${model.modelLength} tokens`,
          );
        }
        return { sampler, rounds: seddAnalyticRounds };
      },
      sample: sequenceSample,
    },
    scoring: { methods: SCORE_METHODS, defaultMethod: 'elbo', refusal: timeConditionedArRefusal, scorer: denoiserScorer((model) => seddLoss(model.vocabSize)) },
    reported: { parameterization: TAG.parameterization, summary: 'SEDD (the analytic sampler, the NELBO)' },
  },
};
