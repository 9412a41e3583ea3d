import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { type ExportNetwork, type ExportOptions, ManifestBaseSchema, graphOptions, readTokenizer, tooManyTokens } from '../../model/index.js';
import { GPT2_TOKENIZER_REPO, TOKENIZER_FILE } from '../../tokenizer/index.js';
import type { ModelFamily } from '../family.js';
import { Gpt2Checkpoint } from './checkpoint.js';
import { GPT2_VOCAB_SIZE, Gpt2ConfigSchema, readGpt2Config } from './config.js';
import { Gpt2Model } from './graph.js';

const TAG = { architecture: 'gpt2' } as const;

/** A GPT-2 export (spec §10): a causal LM that scores samples; it has no mask token. */
const Gpt2ManifestSchema = ManifestBaseSchema.extend({
  architecture: z.literal(TAG.architecture),
  config: Gpt2ConfigSchema,
});
type Gpt2Manifest = z.infer<typeof Gpt2ManifestSchema>;

/** A GPT-2 checkpoint of GPT-2's own vocabulary that ships no tokenizer takes gpt2's. */
async function tokenizerRepo(dir: string): Promise<string | undefined> {
  return (await readGpt2Config(dir)).vocab_size === GPT2_VOCAB_SIZE ? GPT2_TOKENIZER_REPO : undefined;
}

/**
 * GPT-2 uploads may ship tokenizer.json without a tokenizer_config.json (transformers then
 * uses GPT2TokenizerFast's defaults): the export writes those defaults, so that the
 * end-of-text token is known.
 */
async function openNetwork(dir: string, options: ExportOptions): Promise<ExportNetwork> {
  if (options.maskIndex !== undefined) {
    throw new MdlmError(ErrorCodes.invalidArgument, `${dir} is a GPT-2 checkpoint, which has no mask token: a mask index applies to MDLM checkpoints only`);
  }
  const checkpoint = await Gpt2Checkpoint.open(dir);
  try {
    const tokenizer = await readTokenizer(options, true);
    const { vocab_size: vocabSize } = checkpoint.config;
    if (tokenizer !== undefined && tokenizer.tokenizer.vocabSize > vocabSize) throw tooManyTokens(tokenizer.tokenizer, vocabSize);
    return {
      tokenizer,
      weightBytes: checkpoint.weightBytes,
      build: (builder) => new Gpt2Model(builder, checkpoint, graphOptions(options)).build(),
      manifest: { ...TAG, config: checkpoint.config },
      close: () => checkpoint.close(),
    };
  } catch (error) {
    checkpoint.close();
    throw error;
  }
}

/**
 * GPT-2 (spec §10), the seed's evaluation model: a Hugging Face directory (model_type gpt2).
 * It is not served; it scores other models' samples (mdlm eval gen-ppl).
 */
export const GPT2_FAMILY: ModelFamily<Gpt2Manifest> = {
  name: 'gpt2',
  tag: TAG,
  manifestSchema: Gpt2ManifestSchema,
  directory: { modelType: 'gpt2', tokenizerFiles: [TOKENIZER_FILE], tokenizerRepo, open: openNetwork },
  notServed: "generation needs an MDLM model or one of the seed's baselines (a causal LM such as GPT-2 scores samples: mdlm eval gen-ppl --eval-model)",
  sampleScoring: { context: (manifest) => manifest.config.n_positions, eosId: async (manifest) => manifest.config.eos_token_id },
};
