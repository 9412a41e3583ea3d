import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { f32ToF16, numberToHalfBits } from '../../src/util/half.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { tempDir } from '../helpers/tmp.js';
import { f32Bytes, writeRawSafetensors } from '../helpers/safetensors.js';

const dir = tempDir();

function bf16Bytes(values: number[]): Uint8Array {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  return new Uint8Array(Uint16Array.from(bits, (b) => b >>> 16).buffer);
}

test('reads F32, F16 and BF16 tensors as float32', () => {
  const path = join(dir, 'mixed.safetensors');
  const values = [0, 1, -2.5, 0.333251953125, 65504, 2 ** -24];
  writeRawSafetensors(path, {
    a: { dtype: 'F32', shape: [2, 3], data: f32Bytes(values) },
    b: { dtype: 'F16', shape: [6], data: new Uint8Array(f32ToF16(Float32Array.from(values)).buffer) },
    c: { dtype: 'BF16', shape: [3], data: bf16Bytes([1, -2.5, 0.5]) },
  });
  const file = SafetensorsFile.open(path);
  try {
    assert.deepEqual([...file.readFloat32('a')], values.map(Math.fround));
    assert.deepEqual([...file.readFloat32('b')], values);
    assert.deepEqual([...file.readFloat32('c')], [1, -2.5, 0.5]);
    assert.deepEqual(file.tensors.get('a')?.shape, [2, 3]);
  } finally {
    file.close();
  }
});

test('float16 conversion rounds to nearest even and handles the edges', () => {
  assert.equal(numberToHalfBits(1), 0x3c00);
  assert.equal(numberToHalfBits(-2), 0xc000);
  assert.equal(numberToHalfBits(65504), 0x7bff);
  assert.equal(numberToHalfBits(1e6), 0x7c00, 'overflow becomes infinity');
  assert.equal(numberToHalfBits(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(numberToHalfBits(1 + 2 ** -11), 0x3c00, 'a tie rounds to the even mantissa');
  assert.equal(numberToHalfBits(1 + 3 * 2 ** -11), 0x3c02, 'the other tie rounds up to even');
  const nan = f32ToF16(Float32Array.of(Number.NaN))[0] as number;
  assert.ok((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, 'NaN stays NaN');
});

function openError(name: string, write: (path: string) => void): Error & { code?: string } {
  const path = join(dir, name);
  write(path);
  try {
    SafetensorsFile.open(path).close();
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail(`${name} opened without error`);
}

test('a truncated file is reported as truncated', () => {
  const error = openError('truncated.safetensors', (path) =>
    writeRawSafetensors(path, { a: { dtype: 'F32', shape: [4], data: f32Bytes([1, 2, 3, 4]) } }, { truncateBy: 3 }),
  );
  assert.equal(error.code, 'corrupt_file');
  assert.match(error.message, /truncated/);
});

test('a header length beyond the file size is rejected before reading it', () => {
  const error = openError('huge-header.safetensors', (path) => {
    const prefix = Buffer.alloc(16);
    prefix.writeBigUInt64LE(10n ** 15n);
    writeFileSync(path, prefix);
  });
  assert.equal(error.code, 'corrupt_file');
  assert.match(error.message, /header length/);
});

test('an unsupported dtype names the tensor and the dtype', () => {
  const error = openError('int8.safetensors', (path) =>
    writeRawSafetensors(path, { weights: { dtype: 'I8', shape: [4], data: new Uint8Array(4) } }),
  );
  assert.equal(error.code, 'unsupported_dtype');
  assert.match(error.message, /weights has dtype I8/);
});

test('offsets that disagree with the shape, overlap or leave gaps are corrupt', () => {
  const base = { a: { dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) }, b: { dtype: 'F32', shape: [2], data: f32Bytes([3, 4]) } };
  const wrongSize = openError('wrong-size.safetensors', (path) =>
    writeRawSafetensors(path, base, { headerOverride: { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } } }),
  );
  assert.match(wrongSize.message, /do not match shape \[3\]/);
  const overlap = openError('overlap.safetensors', (path) =>
    writeRawSafetensors(path, base, { headerOverride: { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } } }),
  );
  assert.match(overlap.message, /overlapping or gapped/);
  const trailing = openError('trailing.safetensors', (path) =>
    writeRawSafetensors(path, base, { headerOverride: { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } } }),
  );
  assert.match(trailing.message, /bytes after the last tensor/);
});

test('a header that is not JSON is corrupt', () => {
  const error = openError('not-json.safetensors', (path) => {
    const header = Buffer.from('{"a": [');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(path, Buffer.concat([prefix, header]));
  });
  assert.equal(error.code, 'corrupt_file');
  assert.match(error.message, /not valid JSON/);
});
