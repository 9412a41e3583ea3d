/**
 * The OpenAPI document (GET /openapi.json) and the docs page (GET /docs), both generated
 * from the zod schemas the routes validate with. Swagger UI's assets are bundled, so the
 * page works offline.
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';

const DESCRIPTION = `Inference server for MDLM masked diffusion language models: REST generation, OpenAI-compatible completions, and a WebSocket stream of denoising steps. Every error is {"error": {"code", "message", "type", "param"}}.

**WebSocket /v1/stream** (OpenAPI cannot describe it; the README has the full protocol). Send {"type":"generate","id":"<your id>", ...the /v1/generate fields, "decode_text": bool, "mask_text": str} or {"type":"cancel","id"}. Per id the server sends "started", then "step" messages (the positions unmasked and their tokens, and the decoded text when decode_text is set), then exactly one of "done" (samples and stats as in /v1/generate), "error" or "cancelled". A slow reader gets merged step updates; started and final messages are never dropped.`;

const PackageSchema = z.object({ version: z.string() });

/** src/server and dist/server are both two levels below the package root. */
function packageVersion(): string {
  return PackageSchema.parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))).version;
}

/** Registered on the root instance: the document collects every route added after it. */
export function installOpenApi(app: FastifyInstance, apiKey: string | undefined): void {
  app.register(swagger, {
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
  app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
