import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSamplesFile } from '../../src/evaluation/samples-file.js';
import { tempDir } from '../helpers/tmp.js';

function file(content: string): string {
  const path = join(tempDir(), 'samples');
  writeFileSync(path, content);
  return path;
}

test('reads the output of mdlm generate --json (the /v1/generate response)', async () => {
  const response = {
    id: 'gen-1',
    model: 'tiny',
    seed: 1,
    samples: [
      { index: 0, text: 'ba ko', token_ids: [1, 29], forward_passes: 3 },
      { index: 1, text: 'go pe', token_ids: [19, 47], forward_passes: 2 },
    ],
    stats: { steps: 8, forward_passes: 5 },
  };
  assert.deepEqual(await readSamplesFile(file(JSON.stringify(response))), [
    { index: 0, text: 'ba ko', tokenIds: [1, 29] },
    { index: 1, text: 'go pe', tokenIds: [19, 47] },
  ]);
});

test('reads JSON Lines with text or token_ids, numbering lines without an index', async () => {
  const lines = ['{"text": "hello"}', '', '{"token_ids": [5, 6, 7]}', '{"index": 9, "text": "x", "token_ids": [1]}', ''].join('\n');
  assert.deepEqual(await readSamplesFile(file(lines)), [
    { index: 0, text: 'hello', tokenIds: undefined },
    { index: 1, text: undefined, tokenIds: [5, 6, 7] },
    { index: 9, text: 'x', tokenIds: [1] },
  ]);
  assert.deepEqual(await readSamplesFile(file('{"text": "only one line"}\n')), [{ index: 0, text: 'only one line', tokenIds: undefined }]);
});

test('a malformed file is invalid_samples, naming the line and the field', async () => {
  const cases: [string, RegExp][] = [
    ['{"text": "a"}\n{"text": 3}\n', /samples:2: text: Invalid input: expected string, received number/],
    ['{"text": "a"}\nnot json\n', /samples:2: not JSON; expected the output of mdlm generate --json/],
    ['{"index": 0}\n', /samples:1: \(root\): a sample needs text or token_ids/],
    ['{"samples": []}', /samples: samples: no samples/],
    ['{"samples": [{"token_ids": [1.5]}]}', /samples\.0\.token_ids\.0: Invalid input: expected int/],
    ['\n\n', /samples: no samples/],
  ];
  for (const [content, pattern] of cases) {
    await assert.rejects(readSamplesFile(file(content)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'invalid_samples');
      assert.match(error.message, pattern);
      return true;
    });
  }
  await assert.rejects(readSamplesFile(join(tempDir(), 'missing.json')), { code: 'invalid_samples', message: /cannot read the samples file/ });
});
