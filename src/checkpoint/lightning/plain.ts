/**
 * Turns unpickled values into plain JavaScript data (what `hyperParameters` exposes and the
 * zod schema reads), and finds objects of unknown classes where they must not be.
 */
import { ErrorCodes, MdlmError } from '../../errors.js';
import { PyGlobal, PyInstance, PyNative, PyTuple, type PyValue, describe } from './pickle.js';

export type PlainValue = null | boolean | number | bigint | string | Uint8Array | PlainValue[] | PlainObject;

/**
 * Dictionaries become objects with string keys. Stand-ins take the same shape: an object of
 * an unknown class is `{ $opaque: 'module.Class' }`, a global used as a value is
 * `{ $global: 'module.name' }`, a tensor is `{ $tensor: 'a float32 tensor of shape [2]' }`.
 */
export interface PlainObject {
  [key: string]: PlainValue;
}

/** Deeper than this is a hostile or cyclic structure, not a checkpoint's metadata. */
const MAX_DEPTH = 200;

/** OmegaConf classes read as data: containers by their `_content`, value nodes by their `_val`. */
const OMEGACONF_FIELDS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  ['omegaconf.dictconfig', new Map([['DictConfig', '_content']])],
  ['omegaconf.listconfig', new Map([['ListConfig', '_content']])],
  [
    'omegaconf.nodes',
    new Map(['AnyNode', 'StringNode', 'IntegerNode', 'FloatNode', 'BooleanNode', 'BytesNode'].map((name) => [name, '_val'])),
  ],
]);

export function toPlain(value: PyValue, source: string): PlainValue {
  return plain(value, source, 0);
}

function plain(value: PyValue, source: string, depth: number): PlainValue {
  if (depth > MAX_DEPTH) throw tooDeep(source);
  const next = (item: PyValue): PlainValue => plain(item, source, depth + 1);
  if (value instanceof PyTuple) return value.items.map(next);
  if (Array.isArray(value)) return value.map(next);
  if (value instanceof Set) return [...value].map(next);
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [plainKey(key), next(item)]));
  if (value instanceof PyInstance) {
    const content = omegaConfContent(value);
    return content === undefined ? { $opaque: value.cls.qualifiedName } : next(content);
  }
  if (value instanceof PyGlobal) return { $global: value.qualifiedName };
  if (value instanceof PyNative) return { $tensor: value.describe() };
  return value;
}

function plainKey(key: PyValue): string {
  return typeof key === 'object' && key !== null ? `<${describe(key)}>` : String(key);
}

function omegaConfContent(instance: PyInstance): PyValue | undefined {
  const field = OMEGACONF_FIELDS.get(instance.cls.module)?.get(instance.cls.name);
  if (field === undefined || !(instance.state instanceof Map)) return undefined;
  return instance.state.get(field);
}

/** An object of an unknown class, or a global, found inside the weights. */
export interface ForeignValue {
  path: string;
  /** e.g. `an object of class mdlm_evil.Tensor`, `the global posix.system`. */
  value: string;
}

/**
 * Every `PyInstance` and `PyGlobal` below `value`. Where weights are read, such a value is
 * something Python would have run code to build (its `__setstate__`), so it is refused there.
 */
export function findForeign(value: PyValue, path: string, source: string): ForeignValue[] {
  const found: ForeignValue[] = [];
  const visit = (item: PyValue, at: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw tooDeep(source);
    if (item instanceof PyInstance || item instanceof PyGlobal) found.push({ path: at, value: describe(item) });
    else if (item instanceof Map) for (const [key, child] of item) visit(child, `${at}[${JSON.stringify(plainKey(key))}]`, depth + 1);
    else if (Array.isArray(item) || item instanceof PyTuple || item instanceof Set) {
      [...(item instanceof PyTuple ? item.items : item)].forEach((child, i) => visit(child, `${at}[${i}]`, depth + 1));
    }
  };
  visit(value, path, 0);
  return found;
}

function tooDeep(source: string): MdlmError {
  return new MdlmError(ErrorCodes.corruptFile, `${source}: data nested more than ${MAX_DEPTH} levels deep (or cyclic)`);
}
