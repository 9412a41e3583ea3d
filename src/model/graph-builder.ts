import { closeSync, openSync } from 'node:fs';
import { writeAll } from '../util/files.js';
import { f32ToF16 } from '../util/half.js';
import {
  AttributeType,
  DATA_LOCATION_EXTERNAL,
  OnnxDataType,
  type OnnxDataTypeName,
  modelProto,
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

type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array | Int8Array;

/**
 * Where a weight is stored. `data-file`: the external data file, for the right-hand weights of
 * the matrix products, which onnxruntime's CPU kernels copy into a packed layout of their own
 * when the session is built (so a session may map that file, see model/load.ts). `inline`: in
 * model.onnx, parsed into memory the session owns: everything read as it is at run time
 * (embeddings, norms, biases, rotary tables).
 */
export type Placement = 'inline' | 'data-file';

/** Weights up to this size stay in model.onnx wherever they were asked to go. */
const INLINE_LIMIT_BYTES = 1024;
/** Constants up to this many elements are deduplicated by value. */
const SHARED_CONSTANT_MAX_ELEMENTS = 64;
/** Alignment of each tensor in the external data file, so that a runtime can map it directly. */
const EXTERNAL_ALIGNMENT = 64;

/**
 * Builds an ONNX graph node by node. Data-file initializers are written to the external data
 * file the moment they are added; inline ones are held until finish() serialises the graph.
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
  /** Weight bytes taken so far, inline or not: what conversion progress counts. */
  private weightBytes = 0;
  private counter = 0;
  private scopePrefix = '';

  constructor(
    externalDataPath: string,
    externalDataName: string,
    private readonly onWeightBytes: (total: number) => void = () => undefined,
  ) {
    this.externalFd = openSync(externalDataPath, 'w');
    this.externalName = externalDataName;
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
  initializer(name: string, type: OnnxDataTypeName, dims: number[], data: TensorData, placement: Placement = 'inline'): string {
    const stored = type === 'float16' && data instanceof Float32Array ? f32ToF16(data) : data;
    const bytes = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
    const fullName = this.uniqueName(name);
    const tensor: Record<string, unknown> = { name: fullName, dataType: OnnxDataType[type], dims };
    if (placement === 'inline' || bytes.byteLength <= INLINE_LIMIT_BYTES) {
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
    this.weightBytes += bytes.byteLength;
    this.onWeightBytes(this.weightBytes);
    return fullName;
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

  private sharedConstant(name: string, type: OnnxDataTypeName, dims: number[], values: number[], data: () => TensorData): string {
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

  /** Serialises the model and closes the external data file. */
  finish(opsets: Record<string, number>, producerVersion: string): Uint8Array {
    closeSync(this.externalFd);
    const model = modelProto().fromObject({
      irVersion: 9,
      producerName: 'mdlm-serve',
      producerVersion,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: {
        name: 'mdlm',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return modelProto().encode(model).finish();
  }

  /** Closes the external data file without serialising (the export failed). */
  abandon(): void {
    try {
      closeSync(this.externalFd);
    } catch {
      // Already closed by finish().
    }
  }

  private appendExternal(bytes: Uint8Array): void {
    writeAll(this.externalFd, bytes);
    this.externalOffset += bytes.byteLength;
    const padding = (EXTERNAL_ALIGNMENT - (this.externalOffset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
    if (padding > 0) {
      writeAll(this.externalFd, new Uint8Array(padding));
      this.externalOffset += padding;
    }

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
