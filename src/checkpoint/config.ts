import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { describeZodIssues } from '../util/zod.js';

export const positiveInt = z.number().int().positive();

/**
 * The fields of an MDLM Hugging Face config.json that shape the network (spec §1).
 * Other fields (architectures, auto_map, torch_dtype, ...) are kept but not interpreted.
 */
export const MdlmConfigSchema = z
  .looseObject({
    model_type: z.literal('mdlm'),
    vocab_size: positiveInt.min(2).max(1_048_576),
    model_length: positiveInt.max(131_072),
    hidden_dim: positiveInt.max(65_536),
    cond_dim: positiveInt.max(65_536),
    n_blocks: positiveInt.max(1_024),
    n_heads: positiveInt.max(1_024),
    dropout: z.number().min(0).max(1).default(0.1),
    time_conditioning: z.boolean(),
  })
  .superRefine((config, ctx) => {
    if (config.hidden_dim % config.n_heads !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['n_heads'],
        message: `hidden_dim ${config.hidden_dim} is not divisible by n_heads ${config.n_heads}`,
      });
      return;
    }
    if ((config.hidden_dim / config.n_heads) % 2 !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['n_heads'],
        message: `head width hidden_dim/n_heads = ${config.hidden_dim / config.n_heads} must be even for the rotary embedding`,
      });
    }
  });

export type MdlmConfig = z.infer<typeof MdlmConfigSchema>;

/** Width of the sinusoidal timestep features fed to sigma_map (fixed by the architecture). */
export const TIMESTEP_FEATURES = 256;

export function headWidth(config: MdlmConfig): number {
  return config.hidden_dim / config.n_heads;
}

export function parseMdlmConfig(raw: unknown, source: string): MdlmConfig {
  return parseConfig(MdlmConfigSchema, raw, source);
}

export async function readMdlmConfig(checkpointDir: string): Promise<MdlmConfig> {
  return parseConfig(MdlmConfigSchema, await readConfigJson(checkpointDir), configPath(checkpointDir));
}

/** Validates a config with `schema`, naming each offending field. */
export function parseConfig<T extends z.ZodType>(schema: T, raw: unknown, source: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.invalidConfig, `${source}: ${describeZodIssues(parsed.error)}`, {
      details: parsed.error.issues,
    });
  }
  return parsed.data;
}

export function configPath(checkpointDir: string): string {
  return join(checkpointDir, 'config.json');
}

/** A checkpoint's config.json as JSON, not yet validated. */
export async function readConfigJson(checkpointDir: string): Promise<unknown> {
  const path = configPath(checkpointDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path}: cannot read config.json (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MdlmError(ErrorCodes.invalidConfig, `${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
}
