import { GenerateResponseSchema, generateRequest, generateResponse, outputParam } from '../../../api/index.js';
import { ERROR_RESPONSES } from '../../errors.js';
import { disconnectSignal } from '../common/disconnect.js';
import { prepareWithinLimits } from '../common/limits.js';
import { routePlugin } from '../common/route-plugin.js';
import { generateBodySchema } from './schemas.js';

export const generateRoutes = routePlugin('mdlm-routes-generate', async (app) => {
  const { service, config, modelId, bounds } = app.mdlm;
  app.post(
    '/v1/generate',
    {
      schema: {
        summary: 'Generate samples',
        description: 'Runs the reverse diffusion process and returns every sample with its token ids and statistics. A client that disconnects cancels the request.',
        tags: ['generation'],
        body: generateBodySchema(bounds),
        response: { 200: GenerateResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const prepared = prepareWithinLimits(service, generateRequest(body), config.limits, outputParam(body));
      const result = await service.generate(prepared, { signal: disconnectSignal(reply) });
      request.outcome.stats = result.stats;
      return generateResponse(`gen-${request.id}`, modelId, service, prepared, result, body.stop_at_eos ?? false);
    },
  );
});
