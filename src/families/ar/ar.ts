import type { z } from 'zod';
import { ErrorCodes, MdlmError, refuseParam } from '../../errors.js';
import { openDitNetwork } from '../../model/index.js';
import { CausalItemScorer } from '../../scoring/index.js';
import { MdlmTokenizer } from '../../tokenizer/index.js';
import { ditManifestSchema, ditServedModel, sequenceSample, timeConditionedArRefusal } from '../dit.js';
import type { SamplingRequest, ServingFamily } from '../family.js';
import { ArModel } from './graph.js';
import { LEFT_TO_RIGHT, leftToRightRounds } from './left-to-right.js';

const TAG = { architecture: 'ar', parameterization: 'ar' } as const;

const ArManifestSchema = ditManifestSchema(TAG);
type ArManifest = z.infer<typeof ArManifestSchema>;

const NOT_TRAINED = 'is not a model the seed trains';
const NO_FIRST_TOKEN =
  'an autoregressive model needs a first token to condition on: this tokenizer has no BOS (or add_special_tokens is false), so give a prompt';
const ONE_PER_PASS = 'does not apply to an autoregressive model, which generates one token per forward pass, left to right';

/**
 * The AR baseline predicts each token from those before it, so it needs a first one: BOS, as
 * the seed's `_ar_sampler` starts every sample, or the prompt's first token when there is no BOS.
 */
function headOf(prompt: readonly number[], bos: number | undefined): number[] {
  if (bos !== undefined) return [bos, ...prompt];
  if (prompt.length === 0) refuseParam('prompt', NO_FIRST_TOKEN);
  return [...prompt];
}

/**
 * What an AR model cannot do: it generates one token per pass, left to right, within its
 * window. Steps, samplers and ReMDM's parameters belong to the reverse diffusion process; a
 * suffix would need the tokens after it; semi-autoregressive rounds are a diffusion model's
 * way past its window.
 */
function refuseDiffusionFields(request: SamplingRequest): void {
  const diffusionOnly = { steps: request.steps, sampler: request.sampler, eta: request.eta, t_on: request.tOn, t_off: request.tOff, alpha_on: request.alphaOn };
  for (const [param, value] of Object.entries(diffusionOnly)) {
    if (value !== undefined) refuseParam(param, ONE_PER_PASS);
  }
  if (request.suffix !== undefined && request.suffix.length > 0) {
    refuseParam('suffix', 'an autoregressive model generates left to right and cannot fill in before a suffix');
  }
  if (request.semiAr !== undefined) {
    refuseParam('semi_ar', "semi-autoregressive rounds are a diffusion model's; an autoregressive model generates within its window");
  }
}

/**
 * The seed's autoregressive baseline (models/autoregressive.py): the DIT blocks, causal and
 * unconditioned, from a seed .ckpt with backbone ar and parameterization ar. Its config keeps
 * the MDLM field names; the mask token exists in its vocabulary but is never predicted. It
 * generates left to right and scores with its exact likelihood; it has no NELBO.
 */
export const AR_FAMILY: ServingFamily<ArManifest> = {
  name: 'ar',
  tag: TAG,
  manifestSchema: ArManifestSchema,
  lightning: {
    claim: ({ backbone, parameterization }) => {
      if (backbone === 'ar') {
        return parameterization === 'ar' ? { served: true } : { refused: `${NOT_TRAINED} (its AR backbone goes with parameterization ar)` };
      }
      return parameterization === 'ar' ? { refused: `${NOT_TRAINED} (parameterization ar goes with backbone ar)` } : undefined;
    },
    open: (checkpoint, options) => openDitNetwork(checkpoint, ArModel, TAG, options),
  },
  sampleScoring: { context: (manifest) => manifest.config.model_length, eosId: (_, exportDir) => tokenizerEos(exportDir) },
  serving: {
    model: ditServedModel('ar'),
    generation: {
      samplers: [],
      head: headOf,
      refuse: refuseDiffusionFields,
      procedure: (request, { layout, head }, model) => {
        if (layout.rounds > 1) {
          refuseParam(
            request.newTokens === undefined ? 'length' : 'max_tokens',
            `an autoregressive model generates within its window of ${model.modelLength} tokens: the prompt and the tokens to generate must fit it`,
          );
        }
        // One step per token; the grid's t is then exactly the share of the tokens still to generate. A causal model's entry at p predicts p + 1.
        return { sampler: LEFT_TO_RIGHT, rounds: leftToRightRounds, steps: layout.totalLength - head.length, eps: 0, entryOffset: 1 };
      },
      sample: sequenceSample,
    },
    scoring: {
      methods: ['ar'],
      defaultMethod: 'ar',
      refusal: (method, model) =>
        method === 'elbo'
          ? "method elbo is a diffusion model's bound: this is an autoregressive model, whose exact left-to-right likelihood is method ar"
          : timeConditionedArRefusal(method, model),
      // The seed's AR _loss (_maybe_sub_sample) feeds x[:-1] and scores x[1:].
      leadingContext: {
        tokens: 1,
        why:
          'an autoregressive model scores each token given the ones before it, and the first has none: ' +
          'give a context, or keep add_special_tokens on with a tokenizer that has a BOS',
      },
      scorer: (_method, { window }) => new CausalItemScorer(window),
    },
    reported: {
      parameterization: TAG.parameterization,
      summary: "the seed's autoregressive baseline (left to right, method ar; no steps, sampler, suffix or semi_ar)",
    },
  },
};

/** The AR baseline's end-of-text id: its config has none, its tokenizer does. */
async function tokenizerEos(exportDir: string): Promise<number> {
  const eos = (await MdlmTokenizer.fromFiles(exportDir)).eosId;
  if (eos === undefined) throw new MdlmError(ErrorCodes.tokenizerError, `${exportDir}: the tokenizer declares no eos_token, which the seed's padding and counting need`);
  return eos;
}
