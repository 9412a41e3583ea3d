/**
 * What torch.save puts in data.pkl, and the allow-list of globals rebuilt from it. Each
 * allowed global is re-implemented here for the data it makes; none is ever looked up.
 */
import { ErrorCodes } from '../../errors.js';
import {
  type CallableAllowList,
  type PyCallable,
  PyGlobal,
  PyNative,
  PickleRefusal,
  PyTuple,
  type PyValue,
  describe,
  unpickle,
} from './pickle.js';

export type TorchDtype =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

/** torch.<Name>Storage, the storage classes a persistent id names, → element type and width. */
const STORAGE_TYPES: ReadonlyMap<string, { dtype: TorchDtype; itemSize: number }> = new Map([
  ['FloatStorage', { dtype: 'float32', itemSize: 4 }],
  ['HalfStorage', { dtype: 'float16', itemSize: 2 }],
  ['BFloat16Storage', { dtype: 'bfloat16', itemSize: 2 }],
  ['DoubleStorage', { dtype: 'float64', itemSize: 8 }],
  ['LongStorage', { dtype: 'int64', itemSize: 8 }],
  ['IntStorage', { dtype: 'int32', itemSize: 4 }],
  ['ShortStorage', { dtype: 'int16', itemSize: 2 }],
  ['CharStorage', { dtype: 'int8', itemSize: 1 }],
  ['ByteStorage', { dtype: 'uint8', itemSize: 1 }],
  ['BoolStorage', { dtype: 'bool', itemSize: 1 }],
  ['ComplexFloatStorage', { dtype: 'complex64', itemSize: 8 }],
  ['ComplexDoubleStorage', { dtype: 'complex128', itemSize: 16 }],
]);

/** One `<archive>/data/<key>` record, as a persistent id describes it; its bytes stay in the file. */
export class TorchStorage extends PyNative {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly itemSize: number,
    readonly numel: number,
  ) {
    super();
  }

  get byteLength(): number {
    return this.numel * this.itemSize;
  }

  describe(): string {
    return `a ${this.dtype} storage`;
  }
}

/** A tensor as `_rebuild_tensor_v2` defines it: a view (offset, shape, stride) into a storage. */
export class TorchTensor extends PyNative {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {
    super();
  }

  get numel(): number {
    return this.shape.reduce((product, dim) => product * dim, 1);
  }

  /** Whether the elements lie in row-major order from `offset` on, so that one read fetches them. */
  get contiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const dim = this.shape[i] as number;
      // A dimension of size 1 is never stepped along, so its stride is free.
      if (dim !== 1 && this.stride[i] !== expected) return false;
      expected *= dim;
    }
    return true;
  }

  describe(): string {
    return `a ${this.storage.dtype} tensor of shape [${this.shape.join(', ')}]`;
  }
}

/** Protocol 2 names Python 3's builtins by their Python 2 module. */
const BUILTIN_MODULES = ['builtins', '__builtin__'];

function corrupt(message: string): PickleRefusal {
  return new PickleRefusal(ErrorCodes.corruptFile, message);
}

function isIndex(value: PyValue): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function indexTuple(value: PyValue, what: string): number[] {
  if (!(value instanceof PyTuple) || !value.items.every(isIndex)) {
    throw corrupt(`torch._utils._rebuild_tensor_v2 got ${describe(value)} for its ${what}, not a tuple of sizes`);
  }
  return value.items as number[];
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
const rebuildTensor: PyCallable = (args) => {
  const [storage = null, offset = null, size = null, stride = null] = args;
  if (args.length < 6 || args.length > 7) throw corrupt(`torch._utils._rebuild_tensor_v2 got ${args.length} arguments`);
  if (!(storage instanceof TorchStorage)) throw corrupt(`torch._utils._rebuild_tensor_v2 got ${describe(storage)} for its storage`);
  if (!isIndex(offset)) throw corrupt(`torch._utils._rebuild_tensor_v2 got ${describe(offset)} for its storage offset`);
  const tensor = new TorchTensor(storage, offset, indexTuple(size, 'size'), indexTuple(stride, 'stride'));
  if (tensor.stride.length !== tensor.shape.length) {
    throw corrupt(`torch._utils._rebuild_tensor_v2 got ${tensor.shape.length} sizes but ${tensor.stride.length} strides`);
  }
  const last = tensor.shape.reduce((end, dim, i) => end + (dim - 1) * (tensor.stride[i] as number), offset);
  if (tensor.numel > 0 && last >= storage.numel) {
    throw corrupt(`a tensor view reaches element ${last} of storage ${storage.key}, which has ${storage.numel}`);
  }
  return tensor;
};

const orderedDict: PyCallable = (args) => {
  // Python's pickler gives OrderedDict no arguments and adds the items with SETITEMS.
  if (args.length !== 0) throw corrupt('collections.OrderedDict is given arguments');
  return new Map();
};

/** The factories a defaultdict may name; the factory is never called, only checked. */
const DATA_TYPES = new Set(['dict', 'list', 'set', 'int', 'float', 'str']);

const defaultDict: PyCallable = ([factory = null, ...rest]) => {
  const dataType = factory instanceof PyGlobal && BUILTIN_MODULES.includes(factory.module) && DATA_TYPES.has(factory.name);
  if (rest.length > 0 || !(factory === null || dataType)) {
    throw new PickleRefusal(ErrorCodes.unsafeCheckpoint, `collections.defaultdict is given ${describe(factory)} as its factory; nothing was executed`);
  }
  return new Map();
};

const newSet: PyCallable = (args) => {
  const [items = []] = args;
  if (args.length > 1 || !Array.isArray(items)) throw corrupt(`a set is built from ${describe(items)}, not a list`);
  return new Set(items);
};

/** Protocol 2 writes b'' as `bytes()`. */
const emptyBytes: PyCallable = (args) => {
  if (args.length !== 0) throw corrupt('bytes is given arguments');
  return new Uint8Array(0);
};

/** Protocol 2 writes bytes as `_codecs.encode(text, 'latin1')`, one character per byte. */
const encodeLatin1: PyCallable = ([text, encoding, ...rest]) => {
  if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1') || rest.length > 0) {
    throw corrupt(`_codecs.encode is used for something other than bytes (${describe(encoding ?? null)})`);
  }
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw corrupt('_codecs.encode is given a character outside latin-1');
    bytes[i] = code;
  }
  return bytes;
};

function allowList(entries: [module: string, name: string, implementation: PyCallable][]): CallableAllowList {
  const byModule = new Map<string, Map<string, PyCallable>>();
  for (const [module, name, implementation] of entries) {
    const names = byModule.get(module) ?? new Map<string, PyCallable>();
    names.set(name, implementation);
    byModule.set(module, names);
  }
  return byModule;
}

/**
 * The globals a torch.save checkpoint may call, and nothing else: the tensor rebuild, the
 * containers state dicts and OmegaConf configs are made of, and the ways protocol 2 writes
 * sets and bytes. OmegaConf's own classes are not here: they arrive through NEWOBJ, as inert
 * instances that `toPlain` reads.
 */
export const TORCH_CALLABLES: CallableAllowList = allowList([
  ['torch._utils', '_rebuild_tensor_v2', rebuildTensor],
  ['collections', 'OrderedDict', orderedDict],
  ['collections', 'defaultdict', defaultDict],
  ['_codecs', 'encode', encodeLatin1],
  ...BUILTIN_MODULES.flatMap((module): [string, string, PyCallable][] => [
    [module, 'set', newSet],
    [module, 'frozenset', newSet],
    [module, 'bytes', emptyBytes],
  ]),
]);

/** Resolves the persistent ids `('storage', torch.<T>Storage, key, location, numel)`. */
class StorageTable {
  private readonly storages = new Map<string, TorchStorage>();

  load(pid: PyValue): TorchStorage {
    const [tag, type, key, location, numel] = pid instanceof PyTuple ? pid.items : [];
    if (tag !== 'storage' || typeof key !== 'string' || typeof location !== 'string' || !isIndex(numel ?? null)) {
      throw corrupt(`a persistent id that is not a torch storage: ${describe(pid)}`);
    }
    if (!(type instanceof PyGlobal)) throw corrupt(`storage ${key} has ${describe(type ?? null)} for its type`);
    const known = type.module === 'torch' ? STORAGE_TYPES.get(type.name) : undefined;
    if (known === undefined) {
      throw new PickleRefusal(ErrorCodes.unsupportedDtype, `storage ${key} has type ${type.qualifiedName}, which this reader does not know`);
    }
    return this.share(new TorchStorage(key, known.dtype, known.itemSize, numel as number));
  }

  /** Tensors viewing one storage name it again; every mention must agree. */
  private share(storage: TorchStorage): TorchStorage {
    const seen = this.storages.get(storage.key);
    if (seen === undefined) {
      this.storages.set(storage.key, storage);
      return storage;
    }
    if (seen.dtype !== storage.dtype || seen.numel !== storage.numel) {
      throw corrupt(`storage ${storage.key} is described twice, differently`);
    }
    return seen;
  }
}

/** Unpickles a torch.save data.pkl; tensors come back as `TorchTensor` views, their data unread. */
export function readTorchPickle(data: Uint8Array, source: string): PyValue {
  const table = new StorageTable();
  return unpickle(data, { source, callables: TORCH_CALLABLES, persistentLoad: (pid) => table.load(pid) });
}
