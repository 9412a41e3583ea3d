/**
 * A restricted unpickler: it reads a Python pickle as data and never runs anything.
 *
 * Why our own and not an npm parser (pickleparser was evaluated): a safe reader must tell
 * *how* a global is used, because "call it" and "allocate an instance of it" are different
 * risks. pickleparser resolves a global before it knows which opcode will consume it, runs
 * INST, OBJ and NEWOBJ alike through `Reflect.construct`, calls `__setstate__` on whatever
 * object BUILD finds, and fills dictionaries with plain assignment (a `__proto__` key
 * changes the object's prototype). Rather than wrap those behaviours, this file implements
 * the opcodes itself (about as much code as the wrapping would take) with one rule:
 *
 *   - GLOBAL and STACK_GLOBAL only name a global (`PyGlobal`); nothing is looked up.
 *   - REDUCE, INST and OBJ *call* their global in Python. The call goes ahead only if the
 *     global is on the caller's allow-list, and then runs our own re-implementation of it;
 *     any other callable, or a callable that is not a global at all (the result of an earlier
 *     REDUCE, an instance, a string), refuses the whole file (`unsafe_checkpoint`).
 *   - NEWOBJ and NEWOBJ_EX only allocate an instance in Python (`cls.__new__`). Any class is
 *     accepted and yields an inert `PyInstance` holding the class name and its BUILD state;
 *     no `__setstate__`, `__setitem__` or `append` of the class exists here to run (items
 *     SETITEMS and APPENDS add to it are dropped). Whether such an object may appear where
 *     it is found is the caller's decision (a tokenizer in hyper_parameters: yes; a weight: no).
 *   - BUILD on anything but an instance or a dictionary is refused.
 *
 * It reads what torch.save writes (protocol 2, the binary opcodes of protocols 0-1 that a
 * protocol-2 stream uses, and the protocol 3-4 additions). The text opcodes of protocol 0
 * (INT, STRING, GET, ...), extension codes and protocol-5 out-of-band buffers are refused.
 */
import { type ErrorCode, ErrorCodes, MdlmError } from '../../errors.js';

/** A Python global named by the pickle. It is never resolved: only compared to allow-lists. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  /** The global as `module.name`, with control characters escaped so that messages stay one line. */
  get qualifiedName(): string {
    return JSON.stringify(`${this.module}.${this.name}`).slice(1, -1);
  }
}

/** An object built by NEWOBJ: inert data, its class only named. */
export class PyInstance {
  /** The BUILD state, if any (Python would pass it to `__setstate__` or the instance dict). */
  state: PyValue | undefined;

  constructor(readonly cls: PyGlobal) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A value built by an allow-listed callable or the persistent loader (a tensor, a storage). */
export abstract class PyNative {
  abstract describe(): string;
}

export type PyDict = Map<PyValue, PyValue>;

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | Set<PyValue>
  | PyGlobal
  | PyInstance
  | PyNative;

/** Thrown by allow-listed callables and the persistent loader; the unpickler adds where. */
export class PickleRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type PyCallable = (args: readonly PyValue[]) => PyValue;

/** module → name → our re-implementation of that global. */
export type CallableAllowList = ReadonlyMap<string, ReadonlyMap<string, PyCallable>>;

export interface UnpickleOptions {
  /** Names the pickle in messages, e.g. `mdlm.ckpt: data.pkl`. */
  source: string;
  callables: CallableAllowList;
  persistentLoad: (pid: PyValue) => PyValue;
}

export function describe(value: PyValue): string {
  if (value === null) return 'None';
  if (value instanceof PyGlobal) return `the global ${value.qualifiedName}`;
  if (value instanceof PyInstance) return `an object of class ${value.cls.qualifiedName}`;
  if (value instanceof PyNative) return value.describe();
  if (value instanceof PyTuple) return 'a tuple';
  if (value instanceof Map) return 'a dict';
  if (value instanceof Set) return 'a set';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `a str (${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)})`;
  return `a ${typeof value} (${String(value)})`;
}

/** Opcodes refused by name, so that the message says which one was met. */
const UNSUPPORTED: Record<number, string> = {
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x67: 'GET',
  0x70: 'PUT',
  0x50: 'PERSID',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** MARK's place on the stack; a symbol so that no pickled value can pass for it. */
const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a pickle into `PyValue`s; throws `MdlmError` (corrupt_file, unsafe_checkpoint, ...). */
export function unpickle(data: Uint8Array, options: UnpickleOptions): PyValue {
  return new Machine(data, options).run();
}

const STOP = 0x2e;

class Machine {
  private position = 0;
  private opcodeStart = 0;
  private readonly stack: StackItem[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  run(): PyValue {
    try {
      while (this.position < this.data.length) {
        this.opcodeStart = this.position;
        const opcode = this.u8();
        if (opcode === STOP) return this.pop();
        if (!(this.stackOp(opcode) || this.scalarOp(opcode) || this.containerOp(opcode) || this.objectOp(opcode))) {
          const name = UNSUPPORTED[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
          throw this.corrupt(`unsupported pickle opcode ${name}; torch.save writes binary pickles (protocol 2)`);
        }
      }
    } catch (error) {
      if (error instanceof PickleRefusal) throw this.error(error.code, error.message);
      throw error;
    }
    throw this.corrupt('the pickle ends without STOP (truncated)');
  }

  /** Framing, the stack and the memo. Each *Op returns whether it knew the opcode. */
  private stackOp(opcode: number): boolean {
    switch (opcode) {
      case 0x80: // PROTO
        if (this.u8() > 5) throw this.corrupt('unknown pickle protocol');
        return true;
      case 0x95: // FRAME: a length hint only
        this.u64();
        return true;
      case 0x28: // MARK
        this.stack.push(MARK);
        return true;
      case 0x30: // POP
        this.pop();
        return true;
      case 0x31: // POP_MARK
        this.popMark();
        return true;
      case 0x32: // DUP
        return this.push(this.top());
      case 0x71: // BINPUT
        return this.store(this.u8());
      case 0x72: // LONG_BINPUT
        return this.store(this.length32(false));
      case 0x94: // MEMOIZE
        return this.store(this.memo.size);
      case 0x68: // BINGET
        return this.push(this.fetch(this.u8()));
      case 0x6a: // LONG_BINGET
        return this.push(this.fetch(this.length32(false)));
      default:
        return false;
    }
  }

  private scalarOp(opcode: number): boolean {
    switch (opcode) {
      case 0x4e: // NONE
        return this.push(null);
      case 0x88: // NEWTRUE
        return this.push(true);
      case 0x89: // NEWFALSE
        return this.push(false);
      case 0x4a: // BININT
        return this.push(this.view.getInt32(this.advance(4), true));
      case 0x4b: // BININT1
        return this.push(this.u8());
      case 0x4d: // BININT2
        return this.push(this.view.getUint16(this.advance(2), true));
      case 0x8a: // LONG1
        return this.push(decodeLong(this.bytes(this.u8())));
      case 0x8b: // LONG4
        return this.push(decodeLong(this.bytes(this.length32(true))));
      case 0x47: // BINFLOAT (big-endian)
        return this.push(this.view.getFloat64(this.advance(8), false));
      case 0x58: // BINUNICODE
        return this.push(this.text(this.length32(false)));
      case 0x8c: // SHORT_BINUNICODE
        return this.push(this.text(this.u8()));
      case 0x8d: // BINUNICODE8
        return this.push(this.text(this.u64()));
      case 0x42: // BINBYTES
        return this.push(this.bytes(this.length32(false)).slice());
      case 0x43: // SHORT_BINBYTES
        return this.push(this.bytes(this.u8()).slice());
      case 0x8e: // BINBYTES8
        return this.push(this.bytes(this.u64()).slice());
      default:
        return false;
    }
  }

  private containerOp(opcode: number): boolean {
    switch (opcode) {
      case 0x29: // EMPTY_TUPLE
        return this.push(new PyTuple([]));
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: // TUPLE3
        return this.push(new PyTuple(this.popN(opcode - 0x84)));
      case 0x74: // TUPLE
        return this.push(new PyTuple(this.popMark()));
      case 0x5d: // EMPTY_LIST
        return this.push([]);
      case 0x6c: // LIST
        return this.push(this.popMark());
      case 0x61: // APPEND
        return this.append(this.popN(1));
      case 0x65: // APPENDS
        return this.append(this.popMark());
      case 0x7d: // EMPTY_DICT
        return this.push(new Map());
      case 0x64: {
        // DICT
        const items = this.popMark();
        this.stack.push(new Map());
        return this.setItems(items);
      }
      case 0x73: // SETITEM
        return this.setItems(this.popN(2));
      case 0x75: // SETITEMS
        return this.setItems(this.popMark());
      case 0x8f: // EMPTY_SET
        return this.push(new Set());
      case 0x91: // FROZENSET
        return this.push(new Set(this.popMark()));
      case 0x90: // ADDITEMS
        return this.addItems(this.popMark());
      default:
        return false;
    }
  }

  private objectOp(opcode: number): boolean {
    switch (opcode) {
      case 0x63: // GLOBAL
        return this.push(new PyGlobal(this.line(), this.line()));
      case 0x93: // STACK_GLOBAL
        return this.push(this.stackGlobal(this.popN(2)));
      case 0x52: {
        // REDUCE
        const [callable, args] = this.popN(2) as [PyValue, PyValue];
        if (!(args instanceof PyTuple)) throw this.corrupt(`REDUCE needs a tuple of arguments, found ${describe(args)}`);
        return this.push(this.call('REDUCE', callable, args.items));
      }
      case 0x69: {
        // INST: module and name follow as text lines, the arguments were pushed after MARK
        const callable = new PyGlobal(this.line(), this.line());
        return this.push(this.call('INST', callable, this.popMark()));
      }
      case 0x6f: {
        // OBJ: after MARK, the class and then its arguments
        const [callable = null, ...args] = this.popMark();
        return this.push(this.call('OBJ', callable, args));
      }
      case 0x81: // NEWOBJ
        return this.push(this.instance('NEWOBJ', this.popN(2)));
      case 0x92: // NEWOBJ_EX: keyword arguments are dropped, as nothing of the class runs
        return this.push(this.instance('NEWOBJ_EX', this.popN(3)));
      case 0x62: // BUILD
        return this.build(this.pop());
      case 0x51: // BINPERSID
        return this.push(this.options.persistentLoad(this.pop()));
      default:
        return false;
    }
  }

  /** The one place where a pickle asks for code to run: only allow-listed globals get through. */
  private call(opcode: string, callable: PyValue, args: readonly PyValue[]): PyValue {
    if (!(callable instanceof PyGlobal)) {
      throw this.unsafe(`${opcode} calls ${describe(callable)}, not a global; only allow-listed globals are called`);
    }
    const implementation = this.options.callables.get(callable.module)?.get(callable.name);
    if (implementation === undefined) {
      throw this.unsafe(`${opcode} calls ${callable.qualifiedName}, which is not on the allow-list of globals this reader rebuilds`);
    }
    return implementation(args);
  }

  private stackGlobal([module, name]: PyValue[]): PyGlobal {
    if (typeof module !== 'string' || typeof name !== 'string') {
      throw this.corrupt(`STACK_GLOBAL needs two str, found ${describe(module ?? null)} and ${describe(name ?? null)}`);
    }
    return new PyGlobal(module, name);
  }

  /** The arguments (for `cls.__new__`) are checked, not kept: nothing reads them. */
  private instance(opcode: string, [cls = null, args = null]: PyValue[]): PyInstance {
    if (!(cls instanceof PyGlobal)) throw this.corrupt(`${opcode} of ${describe(cls)}, not a class`);
    if (!(args instanceof PyTuple)) throw this.corrupt(`${opcode} needs a tuple of arguments, found ${describe(args)}`);
    return new PyInstance(cls);
  }

  private build(state: PyValue): boolean {
    const target = this.top();
    if (target instanceof PyInstance) {
      target.state = state;
    } else if (!(target instanceof Map)) {
      // A dict's BUILD state holds its Python attributes (e.g. a state_dict's _metadata): not needed.
      throw this.corrupt(`BUILD on ${describe(target)}`);
    }
    return true;
  }

  /** Python would call an instance's `append`; here its items are dropped with it. */
  private append(items: PyValue[]): boolean {
    const target = this.top();
    if (Array.isArray(target)) target.push(...items);
    else if (!(target instanceof PyInstance)) throw this.corrupt(`APPENDS on ${describe(target)}`);
    return true;
  }

  /** Python would call an instance's `__setitem__`; here its items are dropped with it. */
  private setItems(items: PyValue[]): boolean {
    const target = this.top();
    if (items.length % 2 !== 0) throw this.corrupt('SETITEMS with an odd number of items');
    if (target instanceof Map) {
      for (let i = 0; i < items.length; i += 2) target.set(items[i] as PyValue, items[i + 1] as PyValue);
    } else if (!(target instanceof PyInstance)) {
      throw this.corrupt(`SETITEMS on ${describe(target)}`);
    }
    return true;
  }

  private addItems(items: PyValue[]): boolean {
    const target = this.top();
    if (!(target instanceof Set)) throw this.corrupt(`ADDITEMS on ${describe(target)}`);
    for (const item of items) target.add(item);
    return true;
  }

  private store(index: number): boolean {
    this.memo.set(index, this.top());
    return true;
  }

  private fetch(index: number): PyValue {
    const value = this.memo.get(index);
    if (value === undefined) throw this.corrupt(`memo slot ${index} is read before it is written`);
    return value;
  }

  private push(value: PyValue): boolean {
    this.stack.push(value);
    return true;
  }

  private pop(): PyValue {
    const value = this.stack.pop();
    if (value === undefined) throw this.corrupt('stack underflow');
    if (value === MARK) throw this.corrupt('a MARK where a value was expected');
    return value;
  }

  private popN(count: number): PyValue[] {
    const values: PyValue[] = [];
    for (let i = 0; i < count; i++) values.unshift(this.pop());
    return values;
  }

  private top(): PyValue {
    const value = this.stack.at(-1);
    if (value === undefined) throw this.corrupt('stack underflow');
    if (value === MARK) throw this.corrupt('a MARK where a value was expected');
    return value;
  }

  private popMark(): PyValue[] {
    const mark = this.stack.lastIndexOf(MARK);
    if (mark < 0) throw this.corrupt('no MARK on the stack');
    return this.stack.splice(mark).slice(1) as PyValue[];
  }

  private advance(length: number): number {
    const start = this.position;
    if (length > this.data.length - start) throw this.corrupt('the pickle ends inside an opcode (truncated)');
    this.position += length;
    return start;
  }

  private u8(): number {
    return this.data[this.advance(1)] as number;
  }

  private length32(signed: boolean): number {
    const start = this.advance(4);
    const length = signed ? this.view.getInt32(start, true) : this.view.getUint32(start, true);
    if (length < 0) throw this.corrupt('negative length');
    return length;
  }

  private u64(): number {
    const value = this.view.getBigUint64(this.advance(8), true);
    if (value > BigInt(this.data.length)) throw this.corrupt('length past the end of the pickle');
    return Number(value);
  }

  private bytes(length: number): Uint8Array {
    const start = this.advance(length);
    return this.data.subarray(start, start + length);
  }

  private text(length: number): string {
    try {
      return utf8.decode(this.bytes(length));
    } catch {
      throw this.corrupt('a string that is not UTF-8');
    }
  }

  /** A newline-terminated name, as GLOBAL and INST write module and attribute. */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.position);
    if (end < 0) throw this.corrupt('the pickle ends inside a GLOBAL name (truncated)');
    const text = this.text(end - this.position);
    this.advance(1);
    return text;
  }

  private corrupt(message: string): MdlmError {
    return this.error(ErrorCodes.corruptFile, message);
  }

  private unsafe(message: string): MdlmError {
    return this.error(ErrorCodes.unsafeCheckpoint, `${message}; nothing was executed`);
  }

  private error(code: ErrorCode, message: string): MdlmError {
    return new MdlmError(code, `${this.options.source}: ${message} (pickle opcode at byte ${this.opcodeStart})`);
  }
}

/** LONG1/LONG4 payload: little-endian two's complement; a number when it is exactly one. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  if (((bytes[bytes.length - 1] as number) & 0x80) !== 0) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
