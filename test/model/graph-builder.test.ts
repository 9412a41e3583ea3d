import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/model/graph-builder.js';
import { modelProto } from '../../src/model/onnx-proto.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * model.onnx is written as it grows: large inline weights go to the file when added, and the
 * graph's length is patched in at the end. Both readers must see one well-formed model: the
 * runtime computing with every weight, and protobufjs (what the load-time check decodes).
 */
const ROWS = 4096;
const WIDTH = 32;

function build(dir: string) {
  const builder = new GraphBuilder(join(dir, 'model.onnx'), join(dir, 'model.onnx.data'), 'model.onnx.data');
  const table = Float32Array.from({ length: ROWS * WIDTH }, (_, i) => Math.sin(i));
  const weight = Float32Array.from({ length: WIDTH * WIDTH }, (_, i) => Math.cos(i) / WIDTH);
  const ids = builder.input('ids', 'int64', [3]);
  const rows = builder.op('Gather', [builder.initializer('table', 'float', [ROWS, WIDTH], table), ids]);
  const shifted = builder.op('Add', [rows, builder.floats('shift', [0.5], [])]);
  builder.node('MatMul', [shifted, builder.initializer('weight', 'float', [WIDTH, WIDTH], weight, 'data-file')], { outputs: ['y'] });
  builder.output('y', 'float', [3, WIDTH]);
  const size = builder.finish({ '': 17 }, 'test');
  return { table, weight, size };
}

test('a model written as it grows: the runtime computes with every weight, and protobufjs decodes one graph', async () => {
  const dir = tempDir();
  const { table, weight, size } = build(dir);
  const bytes = readFileSync(join(dir, 'model.onnx'));
  assert.equal(size, bytes.byteLength, 'finish() returns the size of model.onnx');
  assert.ok(bytes.byteLength > ROWS * WIDTH * 4, 'the table is inline in model.onnx');

  const ids = [0, 4095, 17];
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  const y = (await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [3]) })).y?.data as Float32Array;
  await session.release();
  ids.forEach((id, r) => {
    for (let c = 0; c < WIDTH; c++) {
      let expected = 0;
      for (let k = 0; k < WIDTH; k++) expected += ((table[id * WIDTH + k] as number) + 0.5) * (weight[k * WIDTH + c] as number);
      assert.ok(Math.abs((y[r * WIDTH + c] as number) - expected) < 1e-5, `y[${r}, ${c}] = ${y[r * WIDTH + c]}, expected ${expected}`);
    }
  });

  const model = modelProto().decode(bytes) as unknown as { irVersion: unknown; graph: { node: unknown[]; initializer: { name: string; rawData?: Uint8Array; dataLocation?: number }[] }; opsetImport: unknown[] };
  assert.equal(model.graph.node.length, 3);
  assert.equal(model.opsetImport.length, 1, 'the model fields after the graph are read too');
  const byName = new Map(model.graph.initializer.map((tensor) => [tensor.name, tensor]));
  assert.deepEqual([...byName.keys()].sort(), ['const/shift', 'table', 'weight']);
  assert.equal(byName.get('table')?.rawData?.byteLength, ROWS * WIDTH * 4, 'the streamed table, whole');
  assert.deepEqual(new Float32Array(Uint8Array.from(byName.get('table')?.rawData ?? []).buffer), table);
  assert.equal(byName.get('weight')?.dataLocation, 1, 'the product weight in the data file');
});
