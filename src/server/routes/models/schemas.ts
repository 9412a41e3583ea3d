import { z } from 'zod';
import { REPORTED_PARAMETERIZATIONS, REPORTED_PARAMETERIZATIONS_SUMMARY } from '../../../families/index.js';
import { count } from '../../../api/index.js';

export const ModelSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: count(),
  owned_by: z.string(),
  model_length: count(),
  vocab_size: count(),
  time_conditioning: z.boolean(),
  parameterization: z.enum(REPORTED_PARAMETERIZATIONS).describe(REPORTED_PARAMETERIZATIONS_SUMMARY),
  provider: z.string().describe('The execution provider running the model.'),
}).meta({ example: { id: 'kuleshov-group/mdlm-owt', object: 'model', created: 1764547200, owned_by: 'kuleshov-group', model_length: 1024, vocab_size: 50258, time_conditioning: false, provider: 'cpu' } });
export type ModelEntry = z.output<typeof ModelSchema>;

export const ModelListSchema = z.object({ object: z.literal('list'), data: z.array(ModelSchema) });
export const ModelParamsSchema = z.object({ model: z.string() });
