/**
 * The server owns its weights once loaded: truncating or overwriting the export's data file
 * under a running server changes nothing it answers (onnxruntime would otherwise map the file:
 * SIGBUS on truncation, silently different outputs on overwrite). A worker started later
 * reads the files again and refuses the changed ones as corrupt.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportModel } from '../../src/families/index.js';
import { synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';
import { exportVariant, postJson, startServer, tinyExport, waitFor } from './helpers.js';

// Built at the top level: a temporary directory made inside a test is removed when that test ends.
const tinyExportDir = await tinyExport();
const tinyInt8ExportDir = join(tempDir(), 'int8');
await exportModel({ checkpointDir: await synthCheckpoint(), outDir: tinyInt8ExportDir, head: 'positions', dtype: 'int8' });
const CLI = join(import.meta.dirname, 'cli-entry.ts');
const DATA = 'model.onnx.data';
const MODEL = 'model.onnx';
const SEEDED = { steps: 16, sampler: 'ddpm', seed: 7, num_samples: 2 } as const;

/** The same bytes, every weight scaled: a model whose outputs differ. */
function overwriteInPlace(path: string): void {
  const bytes = readFileSync(path);
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0; i < floats.length; i++) floats[i] = (floats[i] as number) * -1.5;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, 0);
  } finally {
    closeSync(fd);
  }
}

async function serveCopy(exportDir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--model', exportDir, '--device', 'cpu', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => /listening on http/.test(output) || child.exitCode !== null, 'the server to listen', 30_000);
  const url = /listening on (http:\/\/[\d.:]+)/.exec(output)?.[1];
  assert.ok(url !== undefined, output);
  return { child, url, exited };
}

for (const dtype of ['fp32', 'int8'] as const) {
  test(`mdlm serve (${dtype}) keeps answering, identically, after its files are truncated and then overwritten in place`, async () => {
    const source = dtype === 'fp32' ? tinyExportDir : tinyInt8ExportDir;
    const exportDir = await exportVariant(source, async () => undefined);
    const serving = await serveCopy(exportDir);
    const samples = async () => {
      const response = await postJson(`${serving.url}/v1/generate`, SEEDED, { signal: AbortSignal.timeout(15_000) });
      assert.equal(response.status, 200);
      return (await response.json()).samples;
    };
    try {
      const reference = await samples();
      truncateSync(join(exportDir, DATA), 0);
      truncateSync(join(exportDir, MODEL), 0);
      assert.deepEqual(await samples(), reference, 'after truncation');
      for (const file of [DATA, MODEL]) {
        const fd = openSync(join(exportDir, file), 'r+');
        writeSync(fd, readFileSync(join(source, file)));
        closeSync(fd);
      }
      overwriteInPlace(join(exportDir, DATA));
      assert.deepEqual(await samples(), reference, 'after the weights were overwritten in place');
      assert.equal((await fetch(`${serving.url}/readyz`)).status, 200);
      assert.equal(serving.child.exitCode, null, 'the process is still running');
    } finally {
      serving.child.kill('SIGTERM');
      await serving.exited;
    }
  });
}

test('a worker started after the data file changed refuses it as corrupt, and the server says so', async () => {
  const exportDir = await exportVariant(tinyExportDir, async () => undefined);
  const server = await startServer({ exportDir });
  const size = readFileSync(join(exportDir, DATA)).byteLength;
  truncateSync(join(exportDir, DATA), 100);
  await server.service.restartWorker(0);
  await waitFor(() => server.service.status().workersDown !== undefined, 'the restart to fail');
  const response = await postJson(`${server.url}/v1/generate`, SEEDED);
  assert.equal(response.status, 503);
  const { error } = await response.json();
  assert.equal(error.code, 'worker_unavailable');
  assert.ok(error.message.includes(`${DATA}: 100 bytes, the manifest says ${size} (truncated)`), error.message);
});
