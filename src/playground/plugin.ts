/**
 * The playground page: GET / serves it and GET /playground/* its script and stylesheet.
 * tsc compiles none of them, so they stay in the package's src/playground/assets (package.json
 * "files" ships it), and the compiled plugin in dist/playground reads them from there too.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** src/playground and dist/playground are both two levels below the package root. */
export const PLAYGROUND_ASSETS = fileURLToPath(new URL('../../src/playground/assets/', import.meta.url));
export const PLAYGROUND_PREFIX = '/playground/';
const PAGE = 'index.html';

/**
 * The asset names are fixed, not content-hashed, so they must not be cached as immutable:
 * browsers revalidate every time (a 304 thanks to the ETag) and see an upgrade at once.
 */
const CACHE_CONTROL = 'no-cache';

/** Encapsulated (no fastify-plugin): its reply.sendFile decorator stays inside it. */
export const playground: FastifyPluginAsync = async (app) => {
  // A package or image that lost the assets fails at startup, not with a 404 in the browser.
  await access(join(PLAYGROUND_ASSETS, PAGE)).catch(() => {
    throw new Error(`the playground's assets are missing: ${PLAYGROUND_ASSETS} has no ${PAGE}`);
  });
  await app.register(fastifyStatic, {
    root: PLAYGROUND_ASSETS,
    prefix: PLAYGROUND_PREFIX,
    index: false,
    // One route per file found at startup: any other path under the prefix, the folder itself included, is a plain 404.
    wildcard: false,
    cacheControl: false,
    setHeaders: (reply) => reply.header('cache-control', CACHE_CONTROL),
  });
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.sendFile(PAGE));
};
