import fp from 'fastify-plugin';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

/** A route folder's plugin: encapsulated (what it adds stays inside), named, and reading the server's context. */
export function routePlugin(name: string, plugin: FastifyPluginAsyncZod): FastifyPluginAsyncZod {
  return fp(plugin, { name, fastify: '5.x', encapsulate: true, decorators: { fastify: ['mdlm'] } });
}
