/** The outbound protocols as the docs describe them: the README and the OpenAPI description list exactly what the schemas send. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { CompletionChunkSchema, CompletionEventSchema, StreamServerMessageSchema } from '../../src/server/index.js';
import { buildTestApp } from './helpers.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

/** The part of the README between two markers. */
function section(from: string, to: string): string {
  const start = README.indexOf(from);
  const end = README.indexOf(to, start);
  assert.ok(start >= 0 && end > start, `the README has ${from} then ${to}`);
  return README.slice(start, end);
}

/** A field list as the README writes it, `{a, b?, c: {d, e}}`: each field, `?` when it may be absent, and the fields of those it spells out. */
type Fields = [name: string, nested?: Fields][];

function parseFields(list: string): Fields {
  const inner = list.trim().slice(1, -1);
  const fields: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= inner.length; i++) {
    if (inner[i] === '{') depth++;
    if (inner[i] === '}') depth--;
    if ((inner[i] === ',' && depth === 0) || i === inner.length) {
      fields.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  return fields.map((field) => {
    const colon = field.indexOf(':');
    return colon === -1 ? [field] : [field.slice(0, colon).trim(), parseFields(field.slice(colon + 1))];
  });
}

/** The schema's fields in that notation, spelled out where the README spells them out. */
function schemaFields(schema: z.ZodObject, documented: Fields): Fields {
  return Object.entries(schema.shape).map(([name, field]) => {
    const label = field.safeParse(undefined).success ? `${name}?` : name;
    const nested = documented.find(([documentedName]) => documentedName.replace(/\?$/, '') === name)?.[1];
    return nested !== undefined && field instanceof z.ZodObject ? [label, schemaFields(field, nested)] : [label];
  });
}

/** Checks a README field list against a schema. */
function assertDocuments(list: string, schema: z.ZodObject, what: string): void {
  const documented = parseFields(list);
  assert.deepEqual(documented, schemaFields(schema, documented), `${what}: the README says ${list}`);
}

test('the README lists every WebSocket message the server sends, each with exactly its schema’s fields', () => {
  const protocol = section('**Server → client, per id, in order**', '**Rules**');
  const documented = new Map([...protocol.matchAll(/`(\w+)`[^`\n]*: `(\{[^`]*\})`/g)].map((match) => [match[1] as string, match[2] as string]));
  assert.deepEqual([...documented.keys()], StreamServerMessageSchema.options.map((schema) => schema.shape.type.value));
  for (const schema of StreamServerMessageSchema.options) assertDocuments(documented.get(schema.shape.type.value) ?? '{}', schema, schema.shape.type.value);
});

test('the README describes the completion chunks and the error event with their schemas’ fields', () => {
  const streaming = section('- **Streaming.**', '- **What `logprobs` mean');
  const [chunk = '', choice = '', error = '', ...more] = [...streaming.matchAll(/`(\{[^`]*\})`/g)].map((match) => match[1] as string);
  assert.deepEqual(more, []);
  assertDocuments(chunk, CompletionChunkSchema, 'a chunk');
  assertDocuments(choice, CompletionChunkSchema.shape.choices.element, "a chunk's choice");
  assertDocuments(error, CompletionEventSchema.options[1], 'the error event');
});

test('the OpenAPI description names every WebSocket message the server sends', async () => {
  const { app } = await buildTestApp();
  const description = (await app.inject({ method: 'GET', url: '/openapi.json' })).json().info.description as string;
  for (const schema of StreamServerMessageSchema.options) assert.match(description, new RegExp(`"${schema.shape.type.value}"`));
});
