import { z } from 'zod';
import { count } from '../../../api/index.js';

export const ModelSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: count(),
  owned_by: z.string(),
  model_length: count(),
  vocab_size: count(),
  time_conditioning: z.boolean(),
  parameterization: z
    .enum(['subs', 'sedd', 'ar'])
    .describe("subs: MDLM (every sampler); sedd: SEDD (the analytic sampler, the NELBO); ar: the seed's autoregressive baseline (left to right, method ar; no steps, sampler, suffix or semi_ar)."),
  provider: z.string().describe('The execution provider running the model.'),
}).meta({ example: { id: 'kuleshov-group/mdlm-owt', object: 'model', created: 1764547200, owned_by: 'kuleshov-group', model_length: 1024, vocab_size: 50258, time_conditioning: false, provider: 'cpu' } });
export type ModelEntry = z.output<typeof ModelSchema>;

export const ModelListSchema = z.object({ object: z.literal('list'), data: z.array(ModelSchema) });
export const ModelParamsSchema = z.object({ model: z.string() });
