import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { writeAll } from '../util/files.js';

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** Produces the float32 values; called once, in file order, so values can be generated lazily. */
  values: () => Float32Array;
}

/**
 * Writes an F32 safetensors file tensor by tensor: the header is computed from the shapes
 * alone, so peak memory is one tensor, not the model.
 */
export function writeSafetensorsF32(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  const ordered = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of ordered) {
    const bytes = tensor.shape.reduce((product, dim) => product * dim, 1) * 4;
    header[tensor.name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  // The format pads the header with spaces so that the data section starts 8-byte aligned.
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, headerBytes);
    for (const tensor of ordered) {
      const values = tensor.values();
      writeAll(fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
