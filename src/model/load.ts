/**
 * An export's files read whole into memory and checked before any session is built from
 * them. onnxruntime would otherwise map model.onnx.data from the export directory: a file
 * truncated under a running server then kills it on the next pass (SIGBUS), and one
 * overwritten in place changes its outputs silently. A session built from these bytes owns
 * its weights, whatever happens to the files afterwards.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, MdlmError } from '../errors.js';
import { describeNonFinite, findNonFinite, findNonFiniteHalf } from '../util/finite.js';
import { bytesSha256 } from '../util/hash.js';
import type { ExportFiles } from './manifest.js';
import { DATA_LOCATION_EXTERNAL, ModelProto, OnnxDataType } from './onnx-proto.js';

/** Where an export's files are and what its manifest says they are. */
export interface ExportLocation {
  dir: string;
  files: ExportFiles;
}

export interface ExportBytes {
  model: Uint8Array;
  data: Uint8Array;
}

/**
 * Reads model.onnx and its data file and refuses them as corrupt_file when they are not what
 * the manifest describes (size, sha256), when model.onnx is not an ONNX model, or when a
 * weight holds NaN or +Infinity (-Infinity is an additive mask). Errors name the file and,
 * for a weight, the tensor.
 */
export function readExport({ dir, files }: ExportLocation): ExportBytes {
  const modelPath = join(dir, files.model);
  const dataPath = join(dir, files.data);
  const model = readChecked(modelPath, files.modelBytes, files.modelSha256);
  const data = readChecked(dataPath, files.dataBytes, files.dataSha256);
  checkWeights(decodeModel(modelPath, model), data, files.data, dataPath);
  return { model, data };
}

function corrupt(path: string, problem: string): MdlmError {
  return new MdlmError(ErrorCodes.corruptFile, `${path}: ${problem}; export the model again`);
}

/** The whole file from one descriptor, so that its size and its bytes are of the same file. */
function readChecked(path: string, expectedBytes: number | undefined, expectedSha256: string | undefined): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new MdlmError(ErrorCodes.modelNotFound, `${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const size = fstatSync(fd).size;
    if (expectedBytes !== undefined && size !== expectedBytes) {
      throw corrupt(path, `${size} bytes, the manifest says ${expectedBytes} (${size < expectedBytes ? 'truncated' : 'replaced'})`);
    }
    // Unpooled, so the bytes start at offset 0 of their own buffer and weights can be viewed in place.
    const bytes = Buffer.allocUnsafeSlow(size);
    for (let done = 0; done < size; ) {
      const read = readSync(fd, bytes, done, size - done, done);
      if (read === 0) throw corrupt(path, `ended after ${done} of ${size} bytes while being read`);
      done += read;
    }
    if (expectedSha256 !== undefined && bytesSha256(bytes) !== expectedSha256) throw corrupt(path, 'its sha256 does not match the manifest (the file was changed)');
    return bytes;
  } finally {
    closeSync(fd);
  }
}

interface DecodedTensor {
  name: string;
  dataType: number;
  dataLocation?: number;
  externalData: { key: string; value: string }[];
}

function decodeModel(path: string, bytes: Uint8Array): DecodedTensor[] {
  try {
    const model = ModelProto.decode(bytes) as unknown as { graph?: { initializer?: DecodedTensor[] } };
    if (model.graph === undefined) throw new Error('it has no graph');
    return model.graph.initializer ?? [];
  } catch (cause) {
    throw corrupt(path, `not an ONNX model (${(cause as Error).message})`);
  }
}

/** Every float weight stored in the data file must lie inside it and hold numbers. */
function checkWeights(tensors: readonly DecodedTensor[], data: Uint8Array, dataName: string, dataPath: string): void {
  for (const tensor of tensors) {
    if (tensor.dataLocation !== DATA_LOCATION_EXTERNAL) continue;
    const entry = (key: string) => tensor.externalData.find((item) => item.key === key)?.value;
    const offset = Number(entry('offset') ?? 0);
    const length = Number(entry('length') ?? Number.NaN);
    if (entry('location') !== dataName || !(offset >= 0 && offset + length <= data.byteLength)) {
      throw corrupt(dataPath, `weight ${tensor.name} lies outside it (offset ${offset}, ${length} bytes of ${data.byteLength})`);
    }
    const nonFinite = findNonFiniteWeight(tensor.dataType, data, offset, length);
    if (nonFinite !== undefined) throw corrupt(dataPath, `weight ${tensor.name} holds ${nonFinite}`);
  }
}

function findNonFiniteWeight(dataType: number, data: Uint8Array, offset: number, length: number): string | undefined {
  if (dataType === OnnxDataType.float) {
    const values = view(Float32Array, data, offset, length);
    const found = findNonFinite(values, true);
    return found && describeNonFinite(found, values.length);
  }
  if (dataType === OnnxDataType.float16) {
    const bits = view(Uint16Array, data, offset, length);
    const found = findNonFiniteHalf(bits, true);
    return found && describeNonFinite(found, bits.length);
  }
  return undefined;
}

/** The tensor's elements in place when they are aligned (the exporter aligns to 64 bytes), else from a copy. */
function view<T>(Type: { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T; BYTES_PER_ELEMENT: number }, data: Uint8Array, offset: number, length: number): T {
  const count = Math.floor(length / Type.BYTES_PER_ELEMENT);
  const start = data.byteOffset + offset;
  if (start % Type.BYTES_PER_ELEMENT === 0) return new Type(data.buffer, start, count);
  return new Type(data.slice(offset, offset + count * Type.BYTES_PER_ELEMENT).buffer);
}
