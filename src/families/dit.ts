/**
 * What the families on the seed's DIT weights share (MDLM, SEDD, the AR baseline): a manifest
 * with the network's config and its mask token, the model facts read from it, the sequence
 * sampler, and scoring through the denoiser.
 */
import { z } from 'zod';
import { MdlmConfigSchema } from '../checkpoint/index.js';
import { ManifestBaseSchema } from '../model/index.js';
import { SequenceSampler } from '../sampling/index.js';
import { ArScorer, ElboScorer, type MaskedLoss, type ScoreMethod } from '../scoring/index.js';
import type { GenerationProcedures, ItemScorer, ItemToScore, ServedModel } from './family.js';

/** A DIT family's manifest: its tag, the network's config (MDLM's field names) and the mask token's id. */
export function ditManifestSchema<const Architecture extends string, const Parameterization extends string>(tag: {
  architecture: Architecture;
  parameterization: Parameterization;
}) {
  return ManifestBaseSchema.extend({
    architecture: z.literal(tag.architecture),
    parameterization: z.literal(tag.parameterization),
    maskIndex: z.number().int().nonnegative(),
    config: MdlmConfigSchema,
  });
}

type DitManifest = z.infer<ReturnType<typeof ditManifestSchema>>;

/** The facts of a loaded DIT export. */
export function ditServedModel(family: string): (manifest: DitManifest) => ServedModel {
  return (manifest) => ({
    family,
    maskId: manifest.maskIndex,
    modelLength: manifest.config.model_length,
    vocabSize: manifest.config.vocab_size,
    timeConditioned: manifest.config.time_conditioning,
  });
}

/** The prompt after BOS; unconditional generation stays the seed's: nothing is framed when there is nothing to frame. */
export function framedPrompt(prompt: readonly number[], bos: number | undefined): number[] {
  return prompt.length > 0 && bos !== undefined ? [bos, ...prompt] : [...prompt];
}

/** Every sample of a DIT family runs the shared sequence sampler, with the rounds its procedure chose. */
export const sequenceSample: GenerationProcedures['sample'] = (params, model, random, onStep) => new SequenceSampler(params, model, random, onStep);

/** The left-to-right likelihood reads one conditional per token, which a time-conditioned network does not have. */
export function timeConditionedArRefusal(method: ScoreMethod, model: ServedModel): string | undefined {
  if (method !== 'ar' || !model.timeConditioned) return undefined;
  return 'method ar needs a model that ignores t: this checkpoint is time-conditioned, so its denoiser has no single left-to-right conditional; use elbo';
}

/**
 * Scoring through the denoiser: the NELBO with the family's own loss at a masked position, or
 * the exact left-to-right likelihood, one pass per token.
 */
export function denoiserScorer(loss: (model: ServedModel) => MaskedLoss): (method: ScoreMethod, item: ItemToScore) => ItemScorer {
  return (method, { window, times, random, model }) =>
    method === 'elbo' ? new ElboScorer(window, times, random, { ...model, loss: loss(model) }) : new ArScorer(window, model.maskId);
}
