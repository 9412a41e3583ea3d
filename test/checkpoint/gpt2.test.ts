import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WEIGHTS_FILE } from '../../src/checkpoint/checkpoint.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { Gpt2Checkpoint } from '../../src/families/gpt2/checkpoint.js';
import { readGpt2Config } from '../../src/families/gpt2/config.js';
import { gpt2TensorShapes } from '../../src/families/gpt2/layout.js';
import { GPT2_SYNTH_PRESETS, type Gpt2SynthShape, synthesizeGpt2Checkpoint } from '../../src/families/gpt2/synth.js';
import { checkpointModelType as checkpointArchitecture } from '../../src/families/index.js';
import { type RawTensor, editedCopy, withConfigChange } from '../helpers/safetensors.js';
import { tempDir } from '../helpers/tmp.js';

const SHAPE: Gpt2SynthShape = { vocab_size: 40, n_positions: 8, n_embd: 16, n_layer: 2, n_head: 2 };

async function synth(prefixed: boolean, seed = 3): Promise<string> {
  const dir = join(tempDir(), prefixed ? 'prefixed' : 'bare');
  await synthesizeGpt2Checkpoint({ outDir: dir, shape: SHAPE, seed, prefixed });
  return dir;
}

async function openError(dir: string): Promise<Error & { code?: string }> {
  try {
    (await Gpt2Checkpoint.open(dir)).close();
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail('checkpoint opened without error');
}

test('the synthetic layout is the Hugging Face one: Conv1D [in, out], attn.bias buffers, and with --prefixed transformer. names plus lm_head.weight', async () => {
  const bare = SafetensorsFile.open(join(await synth(false), WEIGHTS_FILE));
  assert.deepEqual(bare.tensors.get('h.1.attn.c_attn.weight')?.shape, [16, 48]);
  assert.deepEqual(bare.tensors.get('h.1.mlp.c_proj.weight')?.shape, [64, 16]);
  assert.deepEqual(bare.tensors.get('h.0.attn.bias')?.shape, [1, 1, 8, 8]);
  assert.ok(!bare.tensors.has('lm_head.weight'));
  bare.close();
  const prefixed = SafetensorsFile.open(join(await synth(true), WEIGHTS_FILE));
  assert.ok(prefixed.tensors.has('transformer.wte.weight') && prefixed.tensors.has('transformer.h.0.attn.bias'));
  assert.deepEqual(prefixed.readFloat32('lm_head.weight'), prefixed.readFloat32('transformer.wte.weight'));
  prefixed.close();
});

test('both naming variants open to the same weights by canonical name, and the buffers are ignored', async () => {
  const bare = await Gpt2Checkpoint.open(await synth(false));
  const prefixed = await Gpt2Checkpoint.open(await synth(true));
  for (const name of ['wte.weight', 'wpe.weight', 'h.1.attn.c_proj.bias', 'ln_f.weight']) assert.deepEqual(bare.weight(name), prefixed.weight(name), name);
  assert.equal(prefixed.weightBytes, bare.weightBytes, 'the tied lm_head is not counted twice');
  bare.close();
  prefixed.close();
});

test('every missing, unexpected and mis-shaped tensor is listed at once, named as the file names the others', async () => {
  const broken = (source: string, prefix: string) =>
    editedCopy(source, (tensors) => {
      tensors.delete(`${prefix}h.1.mlp.c_fc.bias`);
      tensors.delete(`${prefix}ln_f.bias`);
      tensors.set(`${prefix}h.0.extra`, { dtype: 'F32', shape: [1], data: new Uint8Array(4) });
      const qkv = tensors.get(`${prefix}h.0.attn.c_attn.weight`) as RawTensor;
      tensors.set(`${prefix}h.0.attn.c_attn.weight`, { ...qkv, shape: [48, 16] });
    });
  const bare = await openError(broken(await synth(false), ''));
  assert.equal(bare.code, 'invalid_checkpoint');
  assert.match(bare.message, /model\.safetensors does not match its config\.json:\nmissing tensors: h\.1\.mlp\.c_fc\.bias, ln_f\.bias\nunexpected tensors: h\.0\.extra\nmis-shaped tensor h\.0\.attn\.c_attn\.weight: expected \[16, 48\], found \[48, 16\]$/);
  const prefixed = await openError(broken(await synth(true), 'transformer.'));
  assert.match(prefixed.message, /missing tensors: transformer\.h\.1\.mlp\.c_fc\.bias, transformer\.ln_f\.bias\n/);
});

test('a tensor stored under both names is unexpected, and an lm_head.weight that is not wte is refused', async () => {
  const source = await synth(true);
  const doubled = editedCopy(source, (tensors) => tensors.set('wpe.weight', tensors.get('transformer.wpe.weight') as RawTensor));
  assert.match((await openError(doubled)).message, /unexpected tensors: (transformer\.)?wpe\.weight/);
  const untied = editedCopy(source, (tensors) => {
    const head = tensors.get('lm_head.weight') as RawTensor;
    const values = new Float32Array(head.data.buffer.slice(0));
    values[5] = (values[5] as number) + 0.5;
    tensors.set('lm_head.weight', { ...head, data: new Uint8Array(values.buffer) });
  });
  const error = await openError(untied);
  assert.equal(error.code, 'invalid_checkpoint');
  assert.match(error.message, /lm_head\.weight differs from transformer\.wte\.weight at 1 of 640 entries \(largest difference 0\.5\); GPT-2 ties its output layer to the token embedding/);
});

test('config errors name the field, and options that are not GPT-2 are refused', async () => {
  const source = await synth(false);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ n_head: 3 }, /n_head: n_embd 16 is not divisible by n_head 3/],
    [{ activation_function: 'relu' }, /activation_function: only "gelu_new"/],
    [{ tie_word_embeddings: false }, /tie_word_embeddings: an untied output layer is not supported/],
    [{ scale_attn_by_inverse_layer_idx: true }, /scale_attn_by_inverse_layer_idx: attention scaled by the inverse layer index/],
    [{ eos_token_id: 40 }, /eos_token_id: 40 is outside the vocabulary \[0, 40\)/],
    [{ n_positions: 'many' }, /n_positions: Invalid input: expected number/],
  ];
  for (const [change, pattern] of cases) {
    await assert.rejects(readGpt2Config(withConfigChange(source, change)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'invalid_config');
      assert.match(error.message, pattern);
      return true;
    });
  }
});

test('the architecture comes from model_type, and an unknown one is named', async () => {
  const dir = await synth(false);
  assert.equal(await checkpointArchitecture(dir), 'gpt2');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  await assert.rejects(checkpointArchitecture(dir), /config\.json: model_type: "bert" is not a supported model_type \(supported: "mdlm", "gpt2"\)/);
});

test('the large preset has gpt2-large\'s 774,030,080 parameters, and small gpt2\'s 124,439,808', () => {
  const count = (shape: Gpt2SynthShape) =>
    [...gpt2TensorShapes({ ...shape, model_type: 'gpt2', activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 0, eos_token_id: 0, tie_word_embeddings: true, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, add_cross_attention: false })]
      .filter(([name]) => name !== 'lm_head.weight')
      .reduce((sum, [, dims]) => sum + dims.reduce((product, dim) => product * dim, 1), 0);
  assert.equal(count(GPT2_SYNTH_PRESETS.large), 774_030_080);
  assert.equal(count(GPT2_SYNTH_PRESETS.small), 124_439_808);
});
