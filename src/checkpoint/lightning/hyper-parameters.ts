import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { describeZodIssues } from '../../util/zod.js';
import { type MdlmConfig, parseMdlmConfig } from '../config.js';
import type { PlainValue } from './plain.js';

/** The seed's backbones this reader maps to tensors (dimamba and hf_dit are not). */
export const LIGHTNING_BACKBONES = ['dit', 'ar'] as const;
export type LightningBackbone = (typeof LIGHTNING_BACKBONES)[number];

/** The seed's parameterizations (diffusion.py); d3pm is its discrete-time variant of subs. */
export const LIGHTNING_PARAMETERIZATIONS = ['subs', 'sedd', 'ar', 'd3pm'] as const;
export type LightningParameterization = (typeof LIGHTNING_PARAMETERIZATIONS)[number];

const positiveInt = z.number().int().positive();

/**
 * The part of the seed's config (configs/config.yaml as Hydra composed it) that shapes the
 * network. Everything else is kept in `hyperParameters` but not interpreted: it holds
 * unresolved interpolations (`${eval:...}`) that only the seed's resolvers understand.
 */
const HyperParametersSchema = z.object({
  hyper_parameters: z.looseObject({
    config: z.looseObject({
      backbone: z.enum(LIGHTNING_BACKBONES),
      parameterization: z.enum(LIGHTNING_PARAMETERIZATIONS),
      time_conditioning: z.boolean(),
      model: z.looseObject({
        hidden_size: positiveInt,
        cond_dim: positiveInt,
        length: positiveInt,
        n_blocks: positiveInt,
        n_heads: positiveInt,
        dropout: z.number().min(0).max(1),
      }),
      data: z.looseObject({ tokenizer_name_or_path: z.string().min(1) }),
    }),
  }),
});

/** The validated `hyper_parameters.config` of the seed. */
export type SeedConfig = z.infer<typeof HyperParametersSchema>['hyper_parameters']['config'];

export function readSeedConfig(hyperParameters: PlainValue | undefined, source: string): SeedConfig {
  const parsed = HyperParametersSchema.safeParse({ hyper_parameters: hyperParameters });
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.invalidConfig, `${source}: ${describeZodIssues(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  return parsed.data.hyper_parameters.config;
}

/**
 * The seed's field names → MdlmConfig's (spec §1); the vocabulary size is the embedding's
 * row count. parseMdlmConfig adds its own checks (head width).
 */
export function toMdlmConfig(seed: SeedConfig, vocabSize: number, source: string): MdlmConfig {
  const { model } = seed;
  return parseMdlmConfig(
    {
      model_type: 'mdlm',
      vocab_size: vocabSize,
      model_length: model.length,
      hidden_dim: model.hidden_size,
      cond_dim: model.cond_dim,
      n_blocks: model.n_blocks,
      n_heads: model.n_heads,
      dropout: model.dropout,
      time_conditioning: seed.time_conditioning,
    },
    `${source}: hyper_parameters.config, as an MdlmConfig`,
  );
}
