import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEIGHTS_FILE } from '../../src/checkpoint/checkpoint.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { tempDir } from './tmp.js';

export interface RawTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Writes a safetensors file byte by byte, including deliberately broken ones. */
export function writeRawSafetensors(path: string, tensors: Record<string, RawTensor>, options: { headerOverride?: object; truncateBy?: number } = {}): void {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    chunks.push(tensor.data);
    offset += tensor.data.byteLength;
  }
  const headerBytes = Buffer.from(JSON.stringify(options.headerOverride ?? header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const whole = Buffer.concat([prefix, headerBytes, ...chunks]);
  writeFileSync(path, whole.subarray(0, whole.length - (options.truncateBy ?? 0)));
}

export const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** Copies a checkpoint, rewriting its tensors (as F32) through `edit`. */
export function editedCopy(source: string, edit: (tensors: Map<string, RawTensor>) => void): string {
  const dir = join(tempDir(), 'edited');
  cpSync(source, dir, { recursive: true });
  const file = SafetensorsFile.open(join(source, WEIGHTS_FILE));
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of file.tensors) {
    const values = file.readFloat32(name);
    tensors.set(name, { dtype: 'F32', shape: info.shape, data: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) });
  }
  file.close();
  edit(tensors);
  writeRawSafetensors(join(dir, WEIGHTS_FILE), Object.fromEntries(tensors));
  return dir;
}

/** Copies a checkpoint with fields of its config.json replaced. */
export function withConfigChange(source: string, change: Record<string, unknown>): string {
  const dir = join(tempDir(), 'config');
  cpSync(source, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...change }));
  return dir;
}
