import { writeFileSync } from 'node:fs';

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
