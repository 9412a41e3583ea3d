import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Checkpoint } from '../../src/checkpoint/checkpoint.js';
import { expectedTensorShapes } from '../../src/checkpoint/tensor-layout.js';
import { synthConfig, SYNTH_PRESETS } from '../../src/checkpoint/synth.js';
import { MdlmTokenizer } from '../../src/tokenizer/index.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

test('the owt preset has exactly the shape of kuleshov-group/mdlm-owt', () => {
  const config = synthConfig(SYNTH_PRESETS.owt);
  assert.deepEqual(
    [config.vocab_size, config.model_length, config.hidden_dim, config.cond_dim, config.n_blocks, config.n_heads, config.time_conditioning],
    [50258, 1024, 768, 128, 12, 12, false],
  );
  const parameters = [...expectedTensorShapes(config).values()].reduce((sum, shape) => sum + shape.reduce((p, d) => p * d, 1), 0);
  assert.ok(parameters > 165e6 && parameters < 175e6, `~170M parameters, got ${parameters}`);
});

test('a synthetic checkpoint has every mdlm-owt tensor name, prefixed, as F32, and is deterministic in its seed', async () => {
  const a = await synthCheckpoint({}, 7);
  const b = await synthCheckpoint({}, 7);
  const c = await synthCheckpoint({}, 8);
  const header = (dir: string) => {
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    return JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
  };
  const names = Object.keys(header(a)).filter((name) => name !== '__metadata__');
  assert.ok(names.every((name) => name.startsWith('backbone.')));
  assert.ok(Object.values(header(a)).every((entry) => (entry as { dtype?: string }).dtype === undefined || (entry as { dtype: string }).dtype === 'F32'));
  assert.deepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors')));
  assert.notDeepEqual(readFileSync(join(a, 'model.safetensors')), readFileSync(join(c, 'model.safetensors')));
  const checkpoint = await Checkpoint.open(a);
  for (const name of ['blocks.0.adaLN_modulation.weight', 'output_layer.adaLN_modulation.bias', 'output_layer.linear.weight']) {
    assert.ok(checkpoint.weight(name).some((v) => Math.abs(v) > 1e-3), `${name} is nonzero`);
  }
  checkpoint.close();
});

test('a non-GPT-2 vocabulary comes with a word-level tokenizer whose mask is the last id', async () => {
  const dir = await synthCheckpoint({ vocab_size: 40 });
  assert.ok(existsSync(join(dir, 'tokenizer.json')));
  const tokenizer = await MdlmTokenizer.fromFiles(dir);
  assert.equal(tokenizer.maskId, 39);
});

test('a GPT-2-sized vocabulary gets no tokenizer files, like the hub checkpoint (GPT-2 is resolved separately)', async () => {
  const dir = await synthCheckpoint({ vocab_size: 50258 });
  assert.ok(!existsSync(join(dir, 'tokenizer.json')));
  assert.ok(!existsSync(join(dir, 'tokenizer_config.json')));
});

test('synthetic weights make every part matter: logits spread like a trained model, every position sees every token', async () => {
  const dir = await synthCheckpoint({ vocab_size: 200, model_length: 16, hidden_dim: 64, n_heads: 4, n_blocks: 3 });
  const session = await ort.InferenceSession.create(join(await exportHead(dir, 'logits'), 'model.onnx'));
  const L = 16;
  const ids = BigInt64Array.from({ length: L }, (_, i) => BigInt((i * 37) % 199));
  const run = async (tokens: BigInt64Array) => (await session.run({ input_ids: new ort.Tensor('int64', tokens, [1, L]) })).logits?.data as Float32Array;
  const logits = await run(ids);
  const mean = logits.reduce((s, v) => s + v, 0) / logits.length;
  const std = Math.sqrt(logits.reduce((s, v) => s + (v - mean) ** 2, 0) / logits.length);
  assert.ok(std > 1 && std < 10, `logit std ${std}`);
  assert.ok(logits.every(Number.isFinite));
  const changed = ids.slice();
  changed[L - 1] = 5n;
  const other = await run(changed);
  for (let p = 0; p < L; p++) {
    let delta = 0;
    for (let v = 0; v < 200; v++) delta = Math.max(delta, Math.abs((other[p * 200 + v] as number) - (logits[p * 200 + v] as number)));
    assert.ok(delta > 1e-3, `position ${p} reacts to a change at position ${L - 1} (max change ${delta})`);
  }
  await session.release();
});
