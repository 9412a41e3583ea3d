import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeAll } from '../util/files.js';
import { f32ToF16 } from '../util/half.js';
import {
  AttributeType,
  DATA_LOCATION_EXTERNAL,
  OnnxDataType,
  type OnnxDataTypeName,
  onnxMessage,
} from './onnx-proto.js';

export type Dim = number | string;

/** Attribute values: plain numbers are ints, strings are strings; floats must say so. */
export type AttributeValue = number | string | number[] | FloatAttribute | FloatsAttribute;
export interface FloatAttribute {
  float: number;
}
export interface FloatsAttribute {
  floats: number[];
}
export const float = (value: number): FloatAttribute => ({ float: value });

export interface NodeOptions {
  /** Number of outputs to name automatically, or explicit names ('' skips an optional output). */
  outputs?: number | string[];
  attributes?: Record<string, AttributeValue>;
  domain?: string;
}

/** The values an initializer is written from. */
type InitializerData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array | Int8Array;

/**
 * Where a weight is stored. `data-file`: the external data file, for what the session copies
 * into memory of its own as it is built: the right-hand weights of the matrix products, which
 * onnxruntime's CPU kernels pack, and tables read through a folded copy
 * (TransformerLayers.sessionCopy), so a session may map that file (see model/load.ts).
 * `inline`: in model.onnx, parsed into memory the session owns: the small weights read as they
 * are at run time (norms, biases, rotary tables).
 */
export type Placement = 'inline' | 'data-file';

/** Weights up to this size stay in model.onnx wherever they were asked to go. */
const INLINE_LIMIT_BYTES = 1024;
/** Constants up to this many elements are deduplicated by value. */
const SHARED_CONSTANT_MAX_ELEMENTS = 64;
/** Alignment of each tensor in the external data file, so that a runtime can map it directly. */
const EXTERNAL_ALIGNMENT = 64;
/** Inline weights from this size on are written to model.onnx when added, not held until finish(). */
const STREAMED_INLINE_BYTES = 64 * 1024;

/** Field keys of onnx.proto (field number << 3 | wire type 2, length-delimited) written by hand. */
const MODEL_GRAPH_KEY = (7 << 3) | 2;
const GRAPH_INITIALIZER_KEY = (5 << 3) | 2;
const TENSOR_RAW_DATA_KEY = (9 << 3) | 2;
/** The graph's length is patched in when it is known, as a varint padded to this many bytes. */
const PADDED_VARINT_BYTES = 5;

/**
 * Builds an ONNX graph node by node, keeping at most one weight in memory. Data-file
 * initializers go to the external data file the moment they are added. model.onnx is written
 * as it grows too: it begins with the graph (protobuf fields may come in any order), whose large
 * inline initializers are appended when added; finish() appends the nodes and the small
 * initializers, patches the graph's length in, and adds the model's own fields.
 */
export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly externalFd: number;
  private readonly externalName: string;
  private externalOffset = 0;
  /** sha256 of the data file as it is written, so that the manifest's hash needs no second read. */
  private readonly externalHash = createHash('sha256');
  private externalDigest: string | undefined;
  private readonly modelFd: number;
  /** Bytes of the graph message written to model.onnx so far. */
  private graphBytes = 0;
  /** Weight bytes taken so far, inline or not: what conversion progress counts. */
  private weightBytes = 0;
  private counter = 0;
  private scopePrefix = '';

  constructor(
    modelPath: string,
    externalDataPath: string,
    externalDataName: string,
    private readonly onWeightBytes: (total: number) => void = () => undefined,
  ) {
    this.externalFd = openSync(externalDataPath, 'w');
    this.externalName = externalDataName;
    this.modelFd = openSync(modelPath, 'w');
    writeAll(this.modelFd, Uint8Array.of(MODEL_GRAPH_KEY, ...paddedVarint(0)));
  }

  /** The data file's sha256 (hex), once finish() has closed it. */
  get externalSha256(): string {
    if (this.externalDigest === undefined) throw new Error('externalSha256 before finish()');
    return this.externalDigest;
  }

  get externalBytes(): number {
    return this.externalOffset;
  }

  input(name: string, type: OnnxDataTypeName, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return this.claim(name);
  }

  output(name: string, type: OnnxDataTypeName, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Runs `build` with node and initializer names prefixed by `scope`, for a readable graph. */
  scoped<T>(scope: string, build: () => T): T {
    const saved = this.scopePrefix;
    this.scopePrefix = `${saved}${scope}/`;
    try {
      return build();
    } finally {
      this.scopePrefix = saved;
    }
  }

  node(opType: string, inputs: string[], options: NodeOptions = {}): string[] {
    const id = this.counter++;
    const outputs =
      typeof options.outputs === 'object'
        ? options.outputs
        : Array.from({ length: options.outputs ?? 1 }, (_, i) => this.uniqueName(`${opType}_${id}${i === 0 ? '' : `_${i}`}`));
    this.nodes.push({
      name: `${this.scopePrefix}${opType}_${id}`,
      opType,
      domain: options.domain ?? '',
      input: inputs,
      output: outputs,
      attribute: Object.entries(options.attributes ?? {}).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** A node with one output. */
  op(opType: string, inputs: string[], options: Omit<NodeOptions, 'outputs'> = {}): string {
    return this.node(opType, inputs, options)[0] as string;
  }

  /** Adds a constant tensor; `type` float16 takes float32 values and converts them. */
  initializer(name: string, type: OnnxDataTypeName, dims: number[], data: InitializerData, placement: Placement = 'inline'): string {
    const stored = type === 'float16' && data instanceof Float32Array ? f32ToF16(data) : data;
    const bytes = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
    const fullName = this.uniqueName(name);
    const tensor: Record<string, unknown> = { name: fullName, dataType: OnnxDataType[type], dims };
    if (placement === 'inline' || bytes.byteLength <= INLINE_LIMIT_BYTES) {
      if (bytes.byteLength >= STREAMED_INLINE_BYTES) {
        this.streamInitializer(tensor, bytes);
        this.countWeight(bytes);
        return fullName;
      }
      tensor.rawData = bytes;
    } else {
      tensor.dataLocation = DATA_LOCATION_EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: this.externalName },
        { key: 'offset', value: String(this.externalOffset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      this.appendExternal(bytes);
    }
    this.initializers.push(tensor);
    this.countWeight(bytes);
    return fullName;
  }

  private countWeight(bytes: Uint8Array): void {
    this.weightBytes += bytes.byteLength;
    this.onWeightBytes(this.weightBytes);
  }

  /** Appends one initializer to the graph in model.onnx: its fields, then its bytes, uncopied. */
  private streamInitializer(tensor: Record<string, unknown>, bytes: Uint8Array): void {
    const tensorProto = onnxMessage('TensorProto');
    const fields = tensorProto.encode(tensorProto.fromObject(tensor)).finish();
    const rawDataHeader = Uint8Array.of(TENSOR_RAW_DATA_KEY, ...varint(bytes.byteLength));
    const tensorBytes = fields.byteLength + rawDataHeader.byteLength + bytes.byteLength;
    const header = Uint8Array.of(GRAPH_INITIALIZER_KEY, ...varint(tensorBytes));
    for (const part of [header, fields, rawDataHeader, bytes]) writeAll(this.modelFd, part);
    this.graphBytes += header.byteLength + tensorBytes;
  }

  /** A small int64 constant, shared by every node that asks for the same values. */
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.sharedConstant(name, 'int64', dims, values, () => BigInt64Array.from(values.map(BigInt)));
  }

  /** A float constant; small ones are shared like int64s. */
  floats(name: string, values: number[] | Float32Array, dims: number[] = [values.length]): string {
    if (values.length > SHARED_CONSTANT_MAX_ELEMENTS) return this.initializer(name, 'float', dims, Float32Array.from(values));
    return this.sharedConstant(name, 'float', dims, Array.from(values), () => Float32Array.from(values));
  }

  /** A uint8 constant, shared like int64s. */
  uint8s(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.sharedConstant(name, 'uint8', dims, values, () => Uint8Array.from(values));
  }

  /** A float64 constant, shared like int64s. */
  doubles(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.sharedConstant(name, 'double', dims, values, () => Float64Array.from(values));
  }

  private sharedConstant(name: string, type: OnnxDataTypeName, dims: number[], values: number[], data: () => InitializerData): string {
    const key = `${type}|${dims.join(',')}|${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing !== undefined) return existing;
    const saved = this.scopePrefix;
    this.scopePrefix = 'const/';
    try {
      const created = this.initializer(name, type, dims, data());
      this.constants.set(key, created);
      return created;
    } finally {
      this.scopePrefix = saved;
    }
  }

  /** Completes model.onnx and closes both files; returns model.onnx's size. */
  finish(opsets: Record<string, number>, producerVersion: string): number {
    closeSync(this.externalFd);
    this.externalDigest = this.externalHash.digest('hex');
    const graph = onnxMessage('GraphProto');
    const rest = graph.encode(graph.fromObject({ name: 'mdlm', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs })).finish();
    writeAll(this.modelFd, rest);
    this.graphBytes += rest.byteLength;
    writeSync(this.modelFd, paddedVarint(this.graphBytes), 0, PADDED_VARINT_BYTES, 1);
    const model = onnxMessage('ModelProto');
    const fields = model
      .encode(model.fromObject({ irVersion: 9, producerName: 'mdlm-serve', producerVersion, opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })) }))
      .finish();
    writeAll(this.modelFd, fields);
    closeSync(this.modelFd);
    return 1 + PADDED_VARINT_BYTES + this.graphBytes + fields.byteLength;
  }

  /** Closes both files without completing them (the export failed; its caller removes them). */
  abandon(): void {
    for (const fd of [this.externalFd, this.modelFd]) {
      try {
        closeSync(fd);
      } catch {
        // Already closed by finish().
      }
    }
  }

  private appendExternal(bytes: Uint8Array): void {
    this.writeExternal(bytes);
    const padding = (EXTERNAL_ALIGNMENT - (this.externalOffset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
    if (padding > 0) this.writeExternal(new Uint8Array(padding));
  }

  private writeExternal(bytes: Uint8Array): void {
    writeAll(this.externalFd, bytes);
    this.externalHash.update(bytes);
    this.externalOffset += bytes.byteLength;
  }

  /** Scoped name, suffixed when a scope uses the same base name twice (norm1 and norm2 both make a gamma). */
  private uniqueName(base: string): string {
    const name = `${this.scopePrefix}${base}`;
    let candidate = name;
    for (let i = 1; this.names.has(candidate); i++) candidate = `${name}_${i}`;
    return this.claim(candidate);
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate ONNX value name ${name}`);
    this.names.add(name);
    return name;
  }
}

function valueInfo(name: string, type: OnnxDataTypeName, dims: Dim[]): object {
  return {
    name,
    type: {
      tensorType: {
        elemType: OnnxDataType[type],
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === 'number') return { name, type: AttributeType.int, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.string, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) return { name, type: AttributeType.ints, ints: value };
  if ('float' in value) return { name, type: AttributeType.float, f: value.float };
  return { name, type: AttributeType.floats, floats: value.floats };
}

/** A protobuf varint. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** A varint of exactly PADDED_VARINT_BYTES bytes (continuation bits on the padding): valid protobuf, patchable in place. */
function paddedVarint(value: number): Uint8Array {
  if (value >= 2 ** 32) throw new Error(`an ONNX graph of ${value} bytes is too large`);
  const bytes = new Uint8Array(PADDED_VARINT_BYTES);
  let rest = value;
  for (let i = 0; i < PADDED_VARINT_BYTES; i++) {
    bytes[i] = (rest % 0x80) | (i < PADDED_VARINT_BYTES - 1 ? 0x80 : 0);
    rest = Math.floor(rest / 0x80);
  }
  return bytes;
}
