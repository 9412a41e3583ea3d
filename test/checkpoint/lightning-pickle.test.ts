import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PyInstance, type PyValue } from '../../src/checkpoint/lightning/pickle.js';
import { toPlain } from '../../src/checkpoint/lightning/plain.js';
import { readTorchPickle } from '../../src/checkpoint/lightning/torch-pickle.js';

// Hand-assembled pickles; each expectation is what Python's pickle.loads gives for the same bytes.
const PROTO2 = [0x80, 0x02];
const STOP = 0x2e;

function text(value: string): number[] {
  const bytes = [...Buffer.from(value, 'utf8')];
  return [0x58, bytes.length, 0, 0, 0, ...bytes]; // BINUNICODE
}

function global(module: string, name: string): number[] {
  return [0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8')]; // GLOBAL
}

function load(...parts: number[][]): PyValue {
  return readTorchPickle(Uint8Array.from([...PROTO2, ...parts.flat(), STOP]), 'test.pkl');
}

function refusedWith(code: string, pattern: RegExp): (error: Error & { code?: string }) => boolean {
  return (error) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

test('integers, floats, strings and bytes decode as Python decodes them', () => {
  assert.deepEqual(
    load(
      [0x28], // MARK
      [0x4a, 0xfe, 0xff, 0xff, 0xff], // BININT -2
      [0x8a, 0x01, 0xff], // LONG1 -1
      [0x8a, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x01], // LONG1 2**64
      [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // BINFLOAT 1.5 (big-endian)
      text('é'),
      global('_codecs', 'encode'),
      text('\u00ff\u0001'),
      text('latin1'),
      [0x86, 0x52], // TUPLE2, REDUCE: protocol 2's bytes
      [0x6c], // LIST
    ),
    [-2, -1, 2n ** 64n, 1.5, 'é', Uint8Array.from([0xff, 0x01])],
  );
});

test('an object of an unknown class is inert data: its class named, its state kept', () => {
  const value = load(
    global('transformers', 'Tokenizer'),
    [0x29, 0x81], // EMPTY_TUPLE, NEWOBJ
    [0x7d], // EMPTY_DICT
    text('vocab'),
    [0x4b, 0x07, 0x73], // BININT1 7, SETITEM
    [0x62], // BUILD
  );
  assert.ok(value instanceof PyInstance);
  assert.equal(value.cls.qualifiedName, 'transformers.Tokenizer');
  assert.deepEqual(value.state, new Map([['vocab', 7]]));
  assert.deepEqual(toPlain(value, 'test'), { $opaque: 'transformers.Tokenizer' });
});

test('a defaultdict may name a data type as its factory, nothing else', () => {
  const factory = (module: string, name: string): PyValue =>
    load(global('collections', 'defaultdict'), global(module, name), [0x85, 0x52]); // TUPLE1, REDUCE
  assert.deepEqual(factory('__builtin__', 'dict'), new Map());
  assert.throws(() => factory('posix', 'system'), refusedWith('unsafe_checkpoint', /defaultdict is given the global posix\.system as its factory/));
});

test('malformed pickles are refused as corrupt, saying where', () => {
  assert.throws(() => load([0x68, 0x03]), refusedWith('corrupt_file', /memo slot 3 is read before it is written .*byte 2/)); // BINGET 3
  assert.throws(() => readTorchPickle(Uint8Array.from([...PROTO2, 0x5d]), 'test.pkl'), refusedWith('corrupt_file', /without STOP/));
  assert.throws(() => load([0x5d], [0x4b, 0x01], [0x62]), refusedWith('corrupt_file', /BUILD on a list/));
  assert.throws(() => load([0x4b, 0x01], [0x4b, 0x02], [0x93]), refusedWith('corrupt_file', /STACK_GLOBAL needs two str/));
  assert.throws(() => load([0x30]), refusedWith('corrupt_file', /stack underflow/)); // POP
});

test('a self-containing list is reported, not followed forever', () => {
  const cycle = load([0x5d, 0x71, 0x00, 0x68, 0x00, 0x61]); // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND
  assert.throws(() => toPlain(cycle, 'test'), refusedWith('corrupt_file', /nested more than \d+ levels deep \(or cyclic\)/));
});
