/**
 * A conversion interrupted at start-up leaves no staging directory for good: SIGTERM or Ctrl-C
 * removes it on the way out, and what a killed process left (SIGKILL, OOM) is removed by the
 * next start, but only when its process is gone and ran on this host: never another live
 * process's conversion.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { resolveModel } from '../../src/hub/index.js';
import { startCli } from '../helpers/cli.js';
import { synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../server/helpers.js';
import { leftovers } from './helpers.js';

const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

/** The id of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

function fakeTemporary(dir: string, name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'model.onnx.data'), Buffer.alloc(1024));
  return name;
}

test('a start removes the temporaries of dead processes on this host, and no other', async () => {
  const checkpoint = await synthCheckpoint();
  const modelsDir = tempDir();
  const first = await resolveModel(checkpoint, { modelsDir });
  const namespace = dirname(first.exportDir);
  const dead = await deadPid();
  const base = `.${first.exportDir.split('/').at(-1)}`;
  const abandoned = [fakeTemporary(namespace, `${base}.staging-${HOST}-${dead}-deadbeef`), fakeTemporary(namespace, `..${base}.staging-${dead}-00c0ffee.tmp-${dead}-abcdef01`)];
  const kept = [
    fakeTemporary(namespace, `${base}.staging-${HOST}-${process.pid}-0badf00d`),
    fakeTemporary(namespace, `${base}.staging-another-host_example-${dead}-12345678`),
    fakeTemporary(namespace, 'not-a-temporary'),
  ];

  const second = await resolveModel(checkpoint, { modelsDir });
  assert.equal(second.exportDir, first.exportDir);
  const remaining = readdirSync(namespace);
  for (const name of abandoned) assert.ok(!remaining.includes(name), `${name} was removed`);
  for (const name of kept) assert.ok(remaining.includes(name), `${name} was kept`);
  assert.equal(second.notices.filter((notice) => notice.includes(`left by an interrupted conversion (process ${dead}, no longer running)`)).length, 2, second.notices.join('\n'));
});

/** `mdlm serve` converting a checkpoint large enough that its conversion can be caught in progress. */
async function serveDuringConversion(checkpoint: string, modelsDir: string) {
  const serving = startCli(['serve', '--model', checkpoint, '--models-dir', modelsDir, '--device', 'cpu', '--port', '0']);
  await waitFor(() => leftovers(modelsDir).length > 0, 'the conversion to start', 60_000);
  return serving;
}

test('SIGTERM during the start-up conversion leaves nothing; after SIGKILL the next start removes what was left', async () => {
  const checkpoint = await synthCheckpoint({ vocab_size: 20_000, model_length: 64, hidden_dim: 256, cond_dim: 64, n_blocks: 4, n_heads: 4 });
  const modelsDir = tempDir();

  const terminated = await serveDuringConversion(checkpoint, modelsDir);
  terminated.child.kill('SIGTERM');
  assert.equal((await terminated.done).code, 143);
  assert.deepEqual(leftovers(modelsDir), [], 'the exit hooks removed the conversion in progress');

  const killed = await serveDuringConversion(checkpoint, modelsDir);
  killed.child.kill('SIGKILL');
  await killed.done;
  assert.ok(leftovers(modelsDir).length > 0, 'SIGKILL left the conversion behind');

  const next = startCli(['serve', '--model', checkpoint, '--models-dir', modelsDir, '--device', 'cpu', '--port', '0']);
  let output = '';
  next.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => /listening on/.test(output), 'the next start to listen', 60_000);
  next.child.kill('SIGTERM');
  assert.equal((await next.done).code, 0);
  assert.match(output, /left by an interrupted conversion \(process \d+, no longer running\)/);
  assert.deepEqual(leftovers(modelsDir), []);
});
