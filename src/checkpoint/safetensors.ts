import { closeSync, fstatSync, openSync } from 'node:fs';
import { readInto } from '../util/files.js';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { bf16ToF32, f16ToF32 } from '../util/half.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Headers larger than this are not weights metadata but a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const TensorEntrySchema = z.strictObject({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  byteLength: number;
}

function corrupt(path: string, message: string): MdlmError {
  return new MdlmError(ErrorCodes.corruptFile, `${path}: ${message}`);
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/**
 * A safetensors file opened for reading tensor by tensor, so that a model far larger than
 * the memory we want to use is never held whole. The header is validated against the file
 * size up front: every later read is known to be in bounds.
 */
export class SafetensorsFile {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  private fd: number | undefined;

  private constructor(path: string, fd: number, tensors: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.path = path;
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path}: cannot open (${(cause as Error).message})`, { cause });
    }
    try {
      const { tensors, metadata } = readHeader(path, fd);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Reads one tensor, converted to float32. */
  readFloat32(name: string): Float32Array {
    const info = this.tensors.get(name);
    if (info === undefined) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${this.path}: no tensor named ${name}`);
    }
    const bytes = this.readBytes(info);
    switch (info.dtype) {
      case 'F32':
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      case 'F16':
        return f16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
      case 'BF16':
        return bf16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
    }
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private readBytes(info: TensorInfo): Uint8Array {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    // A fresh ArrayBuffer is 8-byte aligned, so typed views over it are always valid.
    const bytes = new Uint8Array(new ArrayBuffer(info.byteLength));
    if (readInto(this.fd, bytes, info.offset) < info.byteLength) throw corrupt(this.path, `unexpected end of file reading ${info.name}`);
    return bytes;
  }
}

function readExactly(path: string, fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  if (readInto(fd, buffer, position) < length) throw corrupt(path, 'unexpected end of file in the header');
  return buffer;
}

function readHeader(path: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw corrupt(path, `file is ${fileSize} bytes, too short to be safetensors`);
  const headerLength = Number(readExactly(path, fd, 8, 0).readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || headerLength > fileSize - 8) {
    throw corrupt(path, `header length ${headerLength} exceeds the file size ${fileSize} (truncated or not safetensors)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(readExactly(path, fd, headerLength, 8).toString('utf8'));
  } catch (cause) {
    throw new MdlmError(ErrorCodes.corruptFile, `${path}: header is not valid JSON`, { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw corrupt(path, 'header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  const { __metadata__: rawMetadata, ...entries } = header as Record<string, unknown>;
  const metadata = z.record(z.string(), z.string()).catch({}).parse(rawMetadata ?? {});
  const tensors = new Map<string, TensorInfo>();
  for (const [name, rawEntry] of Object.entries(entries)) {
    tensors.set(name, parseEntry(path, name, rawEntry, dataStart));
  }
  checkCoverage(path, [...tensors.values()], dataStart, dataLength);
  return { tensors, metadata };
}

function parseEntry(path: string, name: string, rawEntry: unknown, dataStart: number): TensorInfo {
  const entry = TensorEntrySchema.safeParse(rawEntry);
  if (!entry.success) throw corrupt(path, `tensor ${name} has a malformed header entry`);
  const { dtype, shape, data_offsets: [begin, end] } = entry.data;
  if (!(dtype in BYTES_PER_ELEMENT)) {
    throw new MdlmError(
      ErrorCodes.unsupportedDtype,
      `${path}: tensor ${name} has dtype ${dtype}; supported dtypes are F32, F16 and BF16`,
    );
  }
  const expectedBytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype as SafetensorsDtype];
  if (end < begin || end - begin !== expectedBytes) {
    throw corrupt(path, `tensor ${name}: data_offsets [${begin}, ${end}] do not match shape [${shape.join(', ')}] of ${dtype} (${expectedBytes} bytes)`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape, offset: dataStart + begin, byteLength: expectedBytes };
}

/** Tensors must tile the data section exactly: no overlap, no gap, nothing past the end. */
function checkCoverage(path: string, tensors: TensorInfo[], dataStart: number, dataLength: number): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let cursor = dataStart;
  for (const tensor of sorted) {
    if (tensor.offset !== cursor) {
      throw corrupt(path, `tensor ${tensor.name} starts at byte ${tensor.offset - dataStart} of the data section, expected ${cursor - dataStart} (overlapping or gapped tensors)`);
    }
    cursor += tensor.byteLength;
  }
  const covered = cursor - dataStart;
  if (covered > dataLength) {
    throw corrupt(path, `tensors need ${covered} data bytes but the file has ${dataLength} (truncated file)`);
  }
  if (covered < dataLength) {
    throw corrupt(path, `file has ${dataLength - covered} bytes after the last tensor (corrupt or wrong header)`);
  }
}
