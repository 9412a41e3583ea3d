/** The registry: one family per name, tag and model_type; a seed .ckpt claimed or refused by the family that knows it; each family's procedures consistent. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LIGHTNING_BACKBONES, LIGHTNING_PARAMETERIZATIONS, synthConfig } from '../../src/checkpoint/index.js';
import { FAMILIES, familyOfTag, readAnyManifest } from '../../src/families/index.js';
import { familyOfLightning } from '../../src/families/registry.js';
import { tempDir } from '../helpers/tmp.js';

test('names, manifest tags and model_types each belong to one family, and a tag finds its family', () => {
  const unique = (values: string[]) => assert.equal(new Set(values).size, values.length, values.join(', '));
  unique(FAMILIES.map((family) => family.name));
  unique(FAMILIES.map((family) => JSON.stringify(family.tag)));
  unique(FAMILIES.flatMap((family) => (family.directory === undefined ? [] : [family.directory.modelType])));
  for (const family of FAMILIES) assert.equal(familyOfTag({ ...family.tag })?.name, family.name);
  assert.equal(familyOfTag({ architecture: 'mdlm', parameterization: 'd3pm' }), undefined);
});

test('a served family’s defaults are among what it allows', () => {
  for (const family of FAMILIES) {
    if (family.serving === undefined) {
      assert.ok(family.notServed, `${family.name} says why it is not served`);
      continue;
    }
    const { generation, scoring } = family.serving;
    if (generation.defaultSampler !== undefined) assert.ok(generation.samplers.includes(generation.defaultSampler), family.name);
    assert.ok(scoring.methods.includes(scoring.defaultMethod), family.name);
  }
});

test('a seed .ckpt: each backbone and parameterization is claimed by one family or refused saying why', () => {
  const shape = { vocab_size: 64, model_length: 32, hidden_dim: 32, cond_dim: 16, n_blocks: 2, n_heads: 2 };
  const config = (timed: boolean) => synthConfig({ ...shape, time_conditioning: timed });
  const outcome = (backbone: (typeof LIGHTNING_BACKBONES)[number], parameterization: (typeof LIGHTNING_PARAMETERIZATIONS)[number], timed: boolean) => {
    try {
      return familyOfLightning({ path: 'x.ckpt', backbone, parameterization, config: config(timed) }).name;
    } catch (error) {
      assert.equal((error as { code?: string }).code, 'unsupported_model');
      const prefix = `x.ckpt: backbone ${backbone} with parameterization ${parameterization} `;
      assert.ok((error as Error).message.startsWith(prefix), (error as Error).message);
      return (error as Error).message.slice(prefix.length);
    }
  };
  const pairs = LIGHTNING_BACKBONES.flatMap((backbone) => LIGHTNING_PARAMETERIZATIONS.map((parameterization) => [backbone, parameterization] as const));
  const table = Object.fromEntries(pairs.map(([backbone, parameterization]) => [`${backbone}/${parameterization}`, outcome(backbone, parameterization, true)]));
  assert.deepEqual(table, {
    'dit/subs': 'mdlm',
    'dit/sedd': 'sedd',
    'dit/ar': 'is not a model the seed trains (parameterization ar goes with backbone ar)',
    'dit/d3pm': "cannot be served: d3pm is the seed's discrete-time variant, and only subs, sedd and ar are implemented",
    'ar/subs': 'is not a model the seed trains (its AR backbone goes with parameterization ar)',
    'ar/sedd': 'is not a model the seed trains (its AR backbone goes with parameterization ar)',
    'ar/ar': 'ar',
    'ar/d3pm': 'is not a model the seed trains (its AR backbone goes with parameterization ar)',
  });
  assert.match(outcome('dit', 'sedd', false), /SEDD score divides by e\^σ − 1 with the network's σ, which is 0 without time_conditioning/);
  assert.equal(outcome('dit', 'subs', false), 'mdlm');
});

test('a manifest is read by its family’s schema; a tag no family has is a stale export', async () => {
  const dir = join(tempDir(), 'export');
  mkdirSync(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: 'mdlm-serve-onnx', architecture: 'mdlm', parameterization: 'd3pm' }));
  const unknownTag = /unrecognised manifest \(no model family is recorded as architecture mdlm, parameterization d3pm\); export the model again/;
  await assert.rejects(readAnyManifest(dir), { code: 'stale_export', message: unknownTag });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: 'mdlm-serve-onnx', architecture: 'gpt2' }));
  await assert.rejects(readAnyManifest(dir), { code: 'stale_export', message: /unrecognised manifest \(.*builderVersion/ });
});
