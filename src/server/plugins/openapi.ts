/**
 * The OpenAPI document (GET /openapi.json) and the docs page (GET /docs), both generated
 * from the zod schemas the routes validate with. Swagger UI's assets are bundled, so the
 * page works offline.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { packageVersion } from '../../util/package-version.js';

const DESCRIPTION = `Inference server for MDLM masked diffusion language models: REST generation, OpenAI-compatible completions, and a WebSocket stream of denoising steps. Every error is {"error": {"code", "message", "type", "param"}}.

**WebSocket /v1/stream** (OpenAPI cannot describe it; the README has the full protocol). Send \`{"type":"generate","id":"r1", ...the /v1/generate fields, "decode_text": true, "mask_text": "_"}\` or \`{"type":"cancel","id":"r1"}\` (the id is yours to choose). Per id the server sends "started", then "step" messages (the positions unmasked and their tokens, the positions remasked, and the decoded text when decode_text is set), then exactly one of "done" (samples and stats as in /v1/generate), "error" or "cancelled". A slow reader gets merged step updates; started and final messages are never dropped.`;

/** Registered before the routes: the document collects every route added after it. */
export const openApi = fp(
  async (app) => {
    const { apiKey } = app.mdlm.config;
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'mdlm-serve',
          version: packageVersion(),
          description: DESCRIPTION,
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          },
        },
        ...(apiKey !== undefined && { security: [{ bearer: [] }, { apiKeyHeader: [] }] }),
      },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'mdlm-openapi', fastify: '5.x', decorators: { fastify: ['mdlm'] } },
);
