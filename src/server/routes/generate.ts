import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ServerContext } from '../context.js';
import { disconnectSignal } from '../disconnect.js';
import { generateResponse } from '../generation.js';
import { ERROR_RESPONSES, GenerateResponseSchema, generateBodySchema } from '../schemas.js';

export const generateRoutes: FastifyPluginAsyncZod<ServerContext> = async (app, { generations, modelId, bounds }) => {
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
      const result = await generations.runGenerate(request.body, { signal: disconnectSignal(reply) });
      request.outcome.stats = result.stats;
      return generateResponse(`gen-${request.id}`, modelId, result);
    },
  );
};
