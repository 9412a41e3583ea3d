import { z } from 'zod';
import { configPath, parseConfig, readConfigJson } from './config.js';

/** The networks this server builds: the seed's DIT (MDLM, spec §2) and GPT-2, the seed's evaluation model (spec §10). */
export const ARCHITECTURES = ['mdlm', 'gpt2'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const ModelTypeSchema = z.looseObject({
  model_type: z.enum(ARCHITECTURES, { error: (issue) => `${JSON.stringify(issue.input)} is not a supported model_type (supported: ${ARCHITECTURES.map((name) => `"${name}"`).join(', ')})` }),
});

/** Which network a checkpoint directory holds, from its config.json's model_type. */
export async function checkpointArchitecture(checkpointDir: string): Promise<Architecture> {
  return parseConfig(ModelTypeSchema, await readConfigJson(checkpointDir), configPath(checkpointDir)).model_type;
}
