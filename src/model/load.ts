/**
 * An export's files checked before any session is built from them, so that a corrupt model is
 * called corrupt (not a missing GPU), and so that a running session never depends on files
 * that may change under it: onnxruntime would otherwise compute from a mapping of
 * model.onnx.data, and a file truncated under a running server then kills it on the next pass
 * (SIGBUS), one overwritten in place changes its outputs silently.
 *
 * model.onnx is read here and handed over as bytes; it holds the small weights (norms, biases,
 * rotary tables), which onnxruntime parses into memory of its own. The data file holds the
 * matrix products' right-hand weights and the embedding (see Placement in graph-builder.ts).
 * On the CPU, onnxruntime may map it: building the session copies each product's weight into
 * the packed layout its kernels run from and folds the embedding into a copy of its own, and
 * the mapping is never read again (test/server/weights.test.ts truncates and overwrites the
 * file under a running server). Elsewhere the data file is read here too and passed in memory
 * (readCheckedData).
 */
import { type BigIntStats, closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readInto } from '../util/files.js';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { describeNonFinite, findNonFinite, findNonFiniteHalf } from '../util/finite.js';
import { bytesSha256 } from '../util/hash.js';
import type { WeightDtype } from './layers.js';
import type { ExportFiles } from './manifest.js';
import { DATA_LOCATION_EXTERNAL, OnnxDataType, modelProto } from './onnx-proto.js';
import { siblingPath } from '../util/atomic.js';

/** Where an export's files are and what its manifest says they are. */
export interface ExportLocation {
  dir: string;
  files: ExportFiles;
  /** How the session is built from the files depends on it (fp16 products are not packed on the CPU). */
  dtype: WeightDtype;
}

/** model.onnx's bytes and the identity the data file had, both checked. */
export interface CheckedExport {
  model: Uint8Array;
  data: FileIdentity;
  /** How they were found sound: checked in full (hashes, weights), or by the stamp of an earlier full check. */
  check: 'full' | 'stamp';
  readMs: number;
  checkMs: number;
}

/**
 * Beside the files, the identity (device, inode, size, modification and change times) each had
 * when a full check last passed. A file still of that identity holds the same bytes: whatever
 * writes to a file, truncates it or replaces it changes its change time (ctime), which no call
 * can set back. Such files skip the hashing and the weight scan, most of a large model's
 * start-up; any other file gets the full check, which then stamps it.
 *
 * Change times are kept at the clock's coarse resolution, so two writes close together can
 * leave a file the same change time: a file changed less than STAMP_MARGIN_NS before its
 * check began is not stamped (it is checked in full again next time), as git does with its
 * racily clean files.
 */
export const CHECK_STAMP_FILE = 'checked.json';
const STAMP_MARGIN_NS = 1_000_000_000n;

const FileIdentitySchema = z.object({ dev: z.string(), ino: z.string(), size: z.string(), mtimeNs: z.string(), ctimeNs: z.string() });
export type FileIdentity = z.infer<typeof FileIdentitySchema>;
const CheckStampSchema = z.object({ model: FileIdentitySchema, data: FileIdentitySchema, modelSha256: z.string().optional(), dataSha256: z.string().optional() });
type CheckStamp = z.infer<typeof CheckStampSchema>;

interface OpenedFile {
  path: string;
  identity: FileIdentity;
  /** Absent when only the file's identity was needed. */
  bytes?: Buffer;
}

/**
 * Reads model.onnx and checks both files, refusing them as corrupt_file when they are not
 * what the manifest describes (size, sha256), when model.onnx is not an ONNX model, or when a
 * weight holds NaN or +Infinity (-Infinity is an additive mask). Errors name the file and,
 * for a weight, the tensor. Files stamped by an earlier full check (CHECK_STAMP_FILE) are
 * only checked for their size, and the data file is then not read at all.
 */
export function checkExport({ dir, files }: ExportLocation): CheckedExport {
  const started = performance.now();
  const checkBeganNs = BigInt(Date.now()) * 1_000_000n;
  const model = openFile(join(dir, files.model), files.modelBytes, true);
  const dataPath = join(dir, files.data);
  const dataIdentity = openFile(dataPath, files.dataBytes, false).identity;
  const bytes = model.bytes as Buffer;
  const readMs = performance.now() - started;
  const result = (check: CheckedExport['check']) => ({ model: bytes, data: dataIdentity, check, readMs, checkMs: performance.now() - started - readMs });
  if (stampMatches(dir, files, model.identity, dataIdentity)) return result('stamp');
  const data = openFile(dataPath, files.dataBytes, true);
  if (!sameIdentity(data.identity, dataIdentity)) throw changedWhileChecked(dataPath);
  checkHash(model, files.modelSha256);
  checkHash(data, files.dataSha256);
  checkWeights(decodeModel(model.path, bytes), model.path, data.bytes as Buffer, files.data, dataPath);
  const settled = [model.identity, dataIdentity].every((identity) => BigInt(identity.ctimeNs) < checkBeganNs - STAMP_MARGIN_NS);
  if (settled) writeStamp(dir, { model: model.identity, data: dataIdentity, modelSha256: files.modelSha256, dataSha256: files.dataSha256 });
  return result('full');
}

/** The data file's bytes, for a session that cannot map it; refused if it is no longer the file that was checked. */
export function readCheckedData({ dir, files }: ExportLocation, checked: CheckedExport): Uint8Array {
  const path = join(dir, files.data);
  const data = openFile(path, files.dataBytes, true);
  if (!sameIdentity(data.identity, checked.data)) throw changedWhileChecked(path);
  return data.bytes as Buffer;
}

/** After a session mapped the data file: refused if the file changed while the session was being built from it. */
export function assertDataUnchanged({ dir, files }: ExportLocation, checked: CheckedExport): void {
  const path = join(dir, files.data);
  if (!sameIdentity(openFile(path, files.dataBytes, false).identity, checked.data)) throw changedWhileChecked(path);
}

function changedWhileChecked(path: string): MdlmError {
  return corrupt(path, 'it changed while the model was being loaded');
}

function corrupt(path: string, problem: string): MdlmError {
  return new MdlmError(ErrorCodes.corruptFile, `${path}: ${problem}; export the model again`);
}

/** One descriptor for the size, the identity and (when asked) the bytes, so that all three are of the same file. */
function openFile(path: string, expectedBytes: number | undefined, read: boolean): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new MdlmError(ErrorCodes.modelNotFound, `${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const stats = fstatSync(fd, { bigint: true });
    const size = Number(stats.size);
    if (expectedBytes !== undefined && size !== expectedBytes) {
      throw corrupt(path, `${size} bytes, the manifest says ${expectedBytes} (${size < expectedBytes ? 'truncated' : 'replaced'})`);
    }
    return { path, identity: identityOf(stats), bytes: read ? readAll(fd, path, size) : undefined };
  } finally {
    closeSync(fd);
  }
}

function readAll(fd: number, path: string, size: number): Buffer {
  // Unpooled, so the bytes start at offset 0 of their own buffer and weights can be viewed in place.
  const bytes = Buffer.allocUnsafeSlow(size);
  const done = readInto(fd, bytes, 0);
  if (done < size) throw corrupt(path, `ended after ${done} of ${size} bytes while being read`);
  return bytes;
}

function identityOf(stats: BigIntStats): FileIdentity {
  return { dev: String(stats.dev), ino: String(stats.ino), size: String(stats.size), mtimeNs: String(stats.mtimeNs), ctimeNs: String(stats.ctimeNs) };
}

function checkHash(file: OpenedFile, expectedSha256: string | undefined): void {
  if (expectedSha256 !== undefined && bytesSha256(file.bytes as Buffer) !== expectedSha256) throw corrupt(file.path, 'its sha256 does not match the manifest (the file was changed)');
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** A stamp for these very files and the hashes this manifest names; an unreadable or foreign stamp is no stamp. */
function stampMatches(dir: string, files: ExportFiles, model: FileIdentity, data: FileIdentity): boolean {
  let stamp: CheckStamp;
  try {
    stamp = CheckStampSchema.parse(JSON.parse(readFileSync(join(dir, CHECK_STAMP_FILE), 'utf8')));
  } catch {
    return false;
  }
  return sameIdentity(stamp.model, model) && sameIdentity(stamp.data, data) && stamp.modelSha256 === files.modelSha256 && stamp.dataSha256 === files.dataSha256;
}

/** Best effort and atomic: a read-only export is checked in full at every start instead. */
function writeStamp(dir: string, stamp: CheckStamp): void {
  const path = join(dir, CHECK_STAMP_FILE);
  const temporary = siblingPath(path, 'stamp');
  try {
    writeFileSync(temporary, `${JSON.stringify(stamp)}\n`);
    renameSync(temporary, path);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Nothing was written.
    }
  }
}

interface DecodedTensor {
  name: string;
  dataType: number;
  dataLocation?: number;
  externalData: { key: string; value: string }[];
  rawData?: Uint8Array;
}

function decodeModel(path: string, bytes: Uint8Array): DecodedTensor[] {
  try {
    const model = modelProto().decode(bytes) as unknown as { graph?: { initializer?: DecodedTensor[] } };
    if (model.graph === undefined) throw new Error('it has no graph');
    return model.graph.initializer ?? [];
  } catch (cause) {
    throw corrupt(path, `not an ONNX model (${(cause as Error).message})`);
  }
}

/** Every float weight must hold numbers, and one stored in the data file must lie inside it. */
function checkWeights(tensors: readonly DecodedTensor[], modelPath: string, data: Uint8Array, dataName: string, dataPath: string): void {
  for (const tensor of tensors) {
    if (tensor.dataLocation !== DATA_LOCATION_EXTERNAL) {
      const raw = tensor.rawData ?? new Uint8Array(0);
      const nonFinite = findNonFiniteWeight(tensor.dataType, raw, 0, raw.byteLength);
      if (nonFinite !== undefined) throw corrupt(modelPath, `weight ${tensor.name} holds ${nonFinite}`);
      continue;
    }
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
  // A copy of exactly those bytes (a Buffer's slice would be a view of its whole allocation).
  return new Type(new Uint8Array(data.subarray(offset, offset + count * Type.BYTES_PER_ELEMENT)).buffer);
}
