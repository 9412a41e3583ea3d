import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const GPT2_TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'gpt2');

test('synth --arch gpt2 then export: the export records the architecture and config, and generation refuses it', async () => {
  const dir = tempDir();
  const synth = await runCli(['synth', '--arch', 'gpt2', '--preset', 'tiny', '--length', '16', '--out', join(dir, 'ckpt')]);
  assert.equal(synth.code, 0, synth.stderr);
  assert.match(synth.stderr, /GPT-2, V 50257, n_positions 16, n_embd 32, 2 layers, 2 heads/);
  assert.deepEqual(readdirSync(join(dir, 'ckpt')).sort(), ['config.json', 'model.safetensors']);

  const exported = await runCli(['export', '--checkpoint', join(dir, 'ckpt'), '--out', join(dir, 'out'), '--tokenizer', GPT2_TOKENIZER]);
  assert.equal(exported.code, 0, exported.stderr);
  const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
  assert.equal(manifest.architecture, 'gpt2');
  assert.equal(manifest.config.n_positions, 16);
  assert.equal(manifest.maskIndex, undefined, 'GPT-2 has no mask token');
  assert.equal(manifest.tokenizer, true);

  const generate = await runCli(['generate', '--model', join(dir, 'out'), '--steps', '2']);
  assert.equal(generate.code, 2, generate.stderr);
  assert.match(generate.stderr, /error \[invalid_argument\]: .* is a gpt2 export: generation needs an MDLM model/);
});

test('usage errors: an MDLM-only flag on GPT-2, a preset of the other architecture', async () => {
  const dir = tempDir();
  assert.equal((await runCli(['synth', '--arch', 'gpt2', '--out', join(dir, 'ckpt')])).code, 0);
  const mask = await runCli(['export', '--checkpoint', join(dir, 'ckpt'), '--out', join(dir, 'out'), '--mask-index', '3']);
  assert.equal(mask.code, 2);
  assert.match(mask.stderr, /is a GPT-2 checkpoint, which has no mask token/);
  const preset = await runCli(['synth', '--arch', 'gpt2', '--preset', 'owt', '--out', join(dir, 'x')]);
  assert.equal(preset.code, 2);
  assert.match(preset.stderr, /--preset: "owt" is not a gpt2 preset \(tiny, small, medium, large, xl\)/);
  const condDim = await runCli(['synth', '--arch', 'gpt2', '--cond-dim', '8', '--out', join(dir, 'y')]);
  assert.equal(condDim.code, 2);
  assert.match(condDim.stderr, /--cond-dim and --time-conditioning apply to --arch mdlm only/);
});
