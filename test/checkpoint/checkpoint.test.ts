import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Checkpoint } from '../../src/checkpoint/checkpoint.js';
import { readMdlmConfig } from '../../src/checkpoint/config.js';
import { synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';
import { type RawTensor, editedCopy, withConfigChange } from '../helpers/safetensors.js';

async function openError(dir: string): Promise<Error & { code?: string; details?: unknown }> {
  try {
    (await Checkpoint.open(dir)).close();
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail('checkpoint opened without error');
}

test('accepts names with and without the backbone. prefix and ignores rotary_emb.inv_freq', async () => {
  const source = await synthCheckpoint();
  const bare = editedCopy(source, (tensors) => {
    for (const [name, tensor] of [...tensors]) {
      tensors.delete(name);
      tensors.set(name.replace(/^backbone\./, ''), tensor);
    }
    tensors.set('rotary_emb.inv_freq', { dtype: 'F32', shape: [8], data: new Uint8Array(32) });
  });
  const checkpoint = await Checkpoint.open(bare);
  const original = await Checkpoint.open(source);
  assert.deepEqual(checkpoint.weight('blocks.1.attn_qkv.weight'), original.weight('blocks.1.attn_qkv.weight'));
  checkpoint.close();
  original.close();
});

test('lists every missing, unexpected and mis-shaped tensor in one error', async () => {
  const source = await synthCheckpoint();
  const broken = editedCopy(source, (tensors) => {
    tensors.delete('backbone.blocks.0.attn_out.weight');
    tensors.delete('backbone.output_layer.linear.bias');
    tensors.set('backbone.blocks.0.extra', { dtype: 'F32', shape: [1], data: new Uint8Array(4) });
    const norm = tensors.get('backbone.blocks.1.norm2.weight') as RawTensor;
    tensors.set('backbone.blocks.1.norm2.weight', { ...norm, shape: [norm.shape[0] as number / 2, 2] });
  });
  const error = await openError(broken);
  assert.equal(error.code, 'invalid_checkpoint');
  assert.match(error.message, /missing tensors: backbone\.blocks\.0\.attn_out\.weight, backbone\.output_layer\.linear\.bias/);
  assert.match(error.message, /unexpected tensors: backbone\.blocks\.0\.extra/);
  assert.match(error.message, /mis-shaped tensor backbone\.blocks\.1\.norm2\.weight: expected \[32\], found \[16, 2\]/);
});

test('config errors name the offending field', async () => {
  const source = await synthCheckpoint();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ n_heads: 3 }, /n_heads: hidden_dim 32 is not divisible by n_heads 3/],
    [{ vocab_size: 'fifty' }, /vocab_size: Invalid input: expected number, received string/],
    [{ hidden_dim: -4 }, /hidden_dim: Too small/],
    [{ model_type: 'bert' }, /model_type: Invalid input: expected "mdlm"/],
    [{ time_conditioning: undefined }, /time_conditioning: Invalid input: expected boolean/],
  ];
  for (const [change, pattern] of cases) {
    await assert.rejects(readMdlmConfig(withConfigChange(source, change)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'invalid_config');
      assert.match(error.message, pattern);
      return true;
    });
  }
});

test('a config.json that is not JSON gets a clear error', async () => {
  const dir = join(tempDir(), 'bad-json');
  cpSync(await synthCheckpoint(), dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{"model_type": "mdlm",');
  await assert.rejects(readMdlmConfig(dir), /config\.json: not valid JSON/);
});
