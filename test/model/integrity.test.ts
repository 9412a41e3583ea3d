/**
 * A corrupt model is reported as corrupt, naming the file or the tensor: at export (weights
 * that are not numbers), and at load (files that are not what the manifest says, a model.onnx
 * that is not ONNX, weights that are not numbers), before any execution provider is tried.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, existsSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { exportModel, readManifest } from '../../src/families/index.js';
import { GenerationService } from '../../src/generation/index.js';
import { ProviderOptionsSchema } from '../../src/runtime/index.js';
import { bytesSha256 } from '../../src/util/hash.js';
import { runCli } from '../helpers/cli.js';
import { synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';
import { exportVariant, tinyExport } from '../server/helpers.js';

const NAN = new Uint8Array(new Float32Array([Number.NaN, Number.NaN]).buffer);

/** Writes NaN over the first elements of one tensor of a safetensors file. */
function poisonCheckpoint(checkpointDir: string, tensor: string): void {
  const path = join(checkpointDir, 'model.safetensors');
  const file = SafetensorsFile.open(path);
  const offset = file.tensors.get(tensor)?.offset;
  file.close();
  const bytes = readFileSync(path);
  bytes.set(NAN, offset);
  writeFileSync(path, bytes);
}

function open(exportDir: string): Promise<GenerationService> {
  return GenerationService.open({
    exportDir,
    device: 'auto',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    intraOpThreads: 1,
    scheduler: { maxBatch: 4, maxBatchEntries: 64, maxQueue: 16, batchWaitMs: 0 },
  });
}

async function refusedAsCorrupt(exportDir: string, message: RegExp): Promise<void> {
  await assert.rejects(open(exportDir), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'corrupt_file', error.message);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /execution provider/, 'not reported as a missing GPU');
    return true;
  });
}

/** A copy of the tiny export as exports made before the manifest recorded hashes. */
function withoutHashes(): Promise<string> {
  return exportVariant(tinyExportDir, async (dir) => {
    const path = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    delete manifest.files.modelBytes;
    delete manifest.files.modelSha256;
    delete manifest.files.dataSha256;
    await writeFile(path, JSON.stringify(manifest));
  });
}

const tinyExportDir = await tinyExport();
const TENSOR = 'backbone.blocks.0.attn_qkv.weight';

test('the export refuses a checkpoint whose weights hold NaN, naming the tensor, and writes nothing', async () => {
  const checkpoint = await synthCheckpoint();
  poisonCheckpoint(checkpoint, TENSOR);
  const outDir = join(tempDir(), 'out');
  await assert.rejects(exportModel({ checkpointDir: checkpoint, outDir, head: 'positions' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'invalid_checkpoint');
    assert.match(error.message, new RegExp(`model\\.safetensors: tensor ${TENSOR.replaceAll('.', '\\.')} holds NaN at element 0 \\(2 of \\d+ values are not finite\\)`));
    return true;
  });
  assert.equal(existsSync(outDir), false);
});

test('the manifest records the size and sha256 of model.onnx and of its data file', async () => {
  const { files } = await readManifest(tinyExportDir);
  const model = readFileSync(join(tinyExportDir, files.model));
  const data = readFileSync(join(tinyExportDir, files.data));
  assert.deepEqual(files, { model: 'model.onnx', data: 'model.onnx.data', dataBytes: data.byteLength, modelBytes: model.byteLength, modelSha256: bytesSha256(model), dataSha256: bytesSha256(data) });
});

test('a truncated data file, a replaced model.onnx or changed weights are corrupt_file, naming the file', async () => {
  const truncated = await exportVariant(tinyExportDir, async (dir) => truncateSync(join(dir, 'model.onnx.data'), 1000));
  await refusedAsCorrupt(truncated, /model\.onnx\.data: 1000 bytes, the manifest says \d+ \(truncated\); export the model again/);
  const size = readFileSync(join(tinyExportDir, 'model.onnx')).byteLength;
  const noise = Buffer.from(Array.from({ length: size }, (_, i) => (i * 2_654_435_761) >>> 24));
  const replaced = await exportVariant(tinyExportDir, async (dir) => writeFile(join(dir, 'model.onnx'), noise));
  await refusedAsCorrupt(replaced, /model\.onnx: its sha256 does not match the manifest/);
  const changed = await exportVariant(tinyExportDir, async (dir) => {
    const bytes = readFileSync(join(dir, 'model.onnx.data'));
    bytes[100] = (bytes[100] as number) ^ 1;
    writeFileSync(join(dir, 'model.onnx.data'), bytes);
  });
  await refusedAsCorrupt(changed, /model\.onnx\.data: its sha256 does not match the manifest \(the file was changed\)/);
});

test('without hashes in the manifest (older exports), a model.onnx that is not ONNX and NaN weights are still found', async () => {
  const size = readFileSync(join(tinyExportDir, 'model.onnx')).byteLength;
  const noise = await withoutHashes();
  await writeFile(join(noise, 'model.onnx'), Buffer.from(Array.from({ length: size }, (_, i) => (i * 2_654_435_761) >>> 24)));
  await refusedAsCorrupt(noise, /model\.onnx: not an ONNX model \(/);
  const nan = await withoutHashes();
  const data = readFileSync(join(nan, 'model.onnx.data'));
  data.set(NAN, 0);
  writeFileSync(join(nan, 'model.onnx.data'), data);
  await refusedAsCorrupt(nan, /model\.onnx\.data: weight \S+ holds NaN at element 0 \(2 of \d+ values are not finite\)/);
  // A sound export without hashes still loads.
  const service = await open(await withoutHashes());
  await service.close();
});

test('mdlm serve on a truncated export exits 1 with corrupt_file, not provider_unavailable', async () => {
  const truncated = await exportVariant(tinyExportDir, async (dir) => truncateSync(join(dir, 'model.onnx.data'), 0));
  const result = await runCli(['serve', '--model', truncated, '--port', '0']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^error \[corrupt_file\]: .*model\.onnx\.data: 0 bytes, the manifest says \d+ \(truncated\)/m);
  rmSync(truncated, { recursive: true, force: true });
});
