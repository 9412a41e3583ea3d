import { z } from 'zod';
import { Checkpoint, GPT2_MDLM_VOCAB_SIZE, readMdlmConfig } from '../../checkpoint/index.js';
import { openDitNetwork } from '../../model/index.js';
import { DEFAULT_SAMPLER, SAMPLERS } from '../../sampling/index.js';
import { SCORE_METHODS, subsLoss } from '../../scoring/index.js';
import { GPT2_TOKENIZER_REPO, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../tokenizer/index.js';
import { denoiserScorer, ditManifestSchema, ditServedModel, framedPrompt, sequenceSample, timeConditionedArRefusal } from '../dit.js';
import type { ServingFamily } from '../family.js';
import { MdlmModel } from './graph.js';

const TAG = { architecture: 'mdlm', parameterization: 'subs' } as const;

const MdlmManifestSchema = ditManifestSchema(TAG);
type MdlmManifest = z.infer<typeof MdlmManifestSchema>;

/** Other MDLM-family configs may name their tokenizer's hub repository; a non-string value is not a name. */
const TokenizerHintSchema = z.looseObject({
  tokenizer_name: z.string().optional().catch(undefined),
  tokenizer: z.string().optional().catch(undefined),
});

/** The repository its config names, else GPT-2's for mdlm-owt's vocabulary (GPT-2's plus the mask, spec §1). */
async function tokenizerRepo(dir: string): Promise<string | undefined> {
  const config = await readMdlmConfig(dir);
  const hint = TokenizerHintSchema.parse(config);
  return hint.tokenizer_name ?? hint.tokenizer ?? (config.vocab_size === GPT2_MDLM_VOCAB_SIZE ? GPT2_TOKENIZER_REPO : undefined);
}

/**
 * MDLM (spec §2–§9): the seed's DIT under adaLN conditioning, read through SUBS. A Hugging Face
 * directory (kuleshov-group/mdlm-owt) or a seed .ckpt with backbone dit and parameterization
 * subs; every sampler, the NELBO and the left-to-right likelihood through the denoiser.
 */
export const MDLM_FAMILY: ServingFamily<MdlmManifest> = {
  name: 'mdlm',
  tag: TAG,
  manifestSchema: MdlmManifestSchema,
  directory: {
    modelType: 'mdlm',
    tokenizerFiles: [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE],
    tokenizerRepo,
    open: async (dir, options) => openDitNetwork(await Checkpoint.open(dir), MdlmModel, TAG, options),
  },
  lightning: {
    claim: ({ backbone, parameterization }) => (backbone === 'dit' && parameterization === 'subs' ? { served: true } : undefined),
    open: (checkpoint, options) => openDitNetwork(checkpoint, MdlmModel, TAG, options),
  },
  serving: {
    model: ditServedModel('mdlm'),
    generation: {
      samplers: SAMPLERS,
      defaultSampler: DEFAULT_SAMPLER,
      head: framedPrompt,
      procedure: (request) => ({ sampler: request.sampler ?? DEFAULT_SAMPLER }),
      sample: sequenceSample,
    },
    scoring: { methods: SCORE_METHODS, defaultMethod: 'elbo', refusal: timeConditionedArRefusal, scorer: denoiserScorer(() => subsLoss) },
    reported: { parameterization: TAG.parameterization, summary: 'MDLM (every sampler)' },
  },
};
