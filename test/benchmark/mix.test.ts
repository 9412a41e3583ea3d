import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MixFileSchema, MixSpecSchema, mixFromFile, mixFromKinds } from '../../src/benchmark/index.js';
import { splitByWeight } from '../../src/benchmark/mix.js';
import type { ServedModel } from '../../src/benchmark/target.js';

const MODEL: ServedModel = { id: 'owner/model', modelLength: 1024, vocabSize: 50258, parameterization: 'subs', provider: 'cpu' };

test('splitByWeight: shares in proportion, largest remainders first, at least one each, summing to the total when it can', () => {
  assert.deepEqual(splitByWeight(16, [1, 1, 1, 1]), [4, 4, 4, 4]);
  assert.deepEqual(splitByWeight(10, [3, 1]), [8, 2]);
  // 7 × (1/3, 1/3, 1/3) = 2.33 each: the first remainder in order takes the last unit.
  assert.deepEqual(splitByWeight(7, [1, 1, 1]), [3, 2, 2]);
  assert.deepEqual(splitByWeight(5, [0.5, 2, 2.5]), [1, 2, 2]);
  // Fewer than one per entry: every entry still runs, one each.
  assert.deepEqual(splitByWeight(1, [5, 1, 1]), [1, 1, 1]);
});

test('--mix kinds: small default bodies sized from the served model, and completions that name it', () => {
  const mix = mixFromKinds(MixSpecSchema.parse('generate=3,sse,ws,score'), MODEL, {});
  assert.deepEqual(
    mix.map(({ name, endpoint, stream, weight }) => [name, endpoint, stream, weight]),
    [
      ['generate', '/v1/generate', false, 3],
      ['sse', '/v1/completions', true, 1],
      ['ws', '/v1/stream', true, 1],
      ['score', '/v1/score', false, 1],
    ],
  );
  assert.deepEqual(mix[0]?.body, { length: 32, steps: 32 });
  assert.deepEqual(mix[1]?.body, { model: 'owner/model', prompt: '', max_tokens: 16, steps: 32, stream: true, stream_options: { include_usage: true } });
  assert.deepEqual(mix[3]?.body, { items: [{ token_ids: Array.from({ length: 16 }, (_, i) => i + 1) }], mc_samples: 4 });

  const short = mixFromKinds(
    MixSpecSchema.parse('generate,completions,score'),
    { ...MODEL, modelLength: 8, parameterization: 'ar' },
    { prompt: 'Hello', steps: 5 },
  );
  assert.deepEqual(short[0]?.body, { prompt: 'Hello', length: 8 }, "an AR model takes no steps, and no window is longer than the model's");
  assert.deepEqual(short[1]?.body, { model: 'owner/model', prompt: 'Hello', max_tokens: 8 });
  assert.deepEqual(short[2]?.body, { items: [{ text: 'Hello' }], mc_samples: 4 });
});

test('a mix file: its bodies whole, streams recognised, repeated kinds numbered, its own model and stream options kept', () => {
  const file = MixFileSchema.parse([
    { endpoint: '/v1/completions', body: { model: 'other', prompt: 'a', stream: true, stream_options: { include_usage: false } } },
    { endpoint: '/v1/completions', body: { prompt: 'b' }, weight: 2 },
    { endpoint: '/v1/completions', body: { prompt: 'c' } },
    { endpoint: '/v1/stream', body: { steps: 4 }, name: 'socket' },
  ]);
  const mix = mixFromFile(file, MODEL);
  assert.deepEqual(
    mix.map(({ name, stream, weight }) => [name, stream, weight]),
    [
      ['sse', true, 1],
      ['completions', false, 2],
      ['completions #2', false, 1],
      ['socket', true, 1],
    ],
  );
  // The usage chunk is the only place a stream says how many tokens it generated: the bench always asks for it.
  assert.deepEqual(mix[0]?.body, { model: 'other', prompt: 'a', stream: true, stream_options: { include_usage: true } });
  assert.deepEqual(mix[1]?.body, { model: 'owner/model', prompt: 'b' });
  assert.equal(
    MixFileSchema.safeParse([
      { endpoint: '/v1/generate', name: 'x' },
      { endpoint: '/v1/score', name: 'x' },
    ]).success,
    false,
    'names must differ',
  );
});

test("the README's example mix file is one the bench takes", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const example = /`--mix-file` gives the bodies whole:\n\n```json\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example !== undefined, 'the README shows a mix file');
  const mix = mixFromFile(MixFileSchema.parse(JSON.parse(example)), MODEL);
  assert.deepEqual(
    mix.map((entry) => [entry.name, entry.stream]),
    [
      ['generate', false],
      ['chat-like', true],
      ['ws', true],
    ],
  );
});
