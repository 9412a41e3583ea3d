import { ERROR_RESPONSES } from '../../errors.js';
import { requireModel } from '../common/model-id.js';
import { routePlugin } from '../common/route-plugin.js';
import { type ModelEntry, ModelListSchema, ModelParamsSchema, ModelSchema } from './schemas.js';

/** The one served model, in OpenAI's model-list shape plus what a diffusion client needs to know. */
export const modelsRoutes = routePlugin('mdlm-routes-models', async (app) => {
  const { service, modelId } = app.mdlm;
  const entry = (): ModelEntry => ({
    id: modelId,
    object: 'model',
    created: Math.floor(Date.parse(service.model.createdAt) / 1000),
    owned_by: modelId.includes('/') ? (modelId.split('/')[0] as string) : 'local',
    model_length: service.model.modelLength,
    vocab_size: service.model.vocabSize,
    time_conditioning: service.model.timeConditioned,
    parameterization: service.model.parameterization,
    provider: service.status().provider,
  });

  app.get('/v1/models', { schema: { summary: 'List the served models', tags: ['openai'], response: { 200: ModelListSchema, ...ERROR_RESPONSES } } }, async () => ({
    object: 'list' as const,
    data: [entry()],
  }));

  app.get(
    '/v1/models/:model',
    { schema: { summary: 'Describe a served model', tags: ['openai'], params: ModelParamsSchema, response: { 200: ModelSchema, ...ERROR_RESPONSES } } },
    async (request) => {
      requireModel(request.params.model, modelId);
      return entry();
    },
  );
});
