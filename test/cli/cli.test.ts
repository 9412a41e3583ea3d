import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { runCli, startCli } from '../helpers/cli.js';
import { synthCheckpoint } from '../helpers/models.js';
import { writeRawSafetensors } from '../helpers/safetensors.js';
import { tempDir } from '../helpers/tmp.js';

const SUBCOMMANDS = ['synth', 'export', 'generate', 'score', 'eval', 'bench', 'serve'];

test('mdlm --help lists the subcommands, and each has its own --help', async () => {
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  for (const command of SUBCOMMANDS) assert.match(top.stdout, new RegExp(`\\b${command}\\b`));
  const expectedFlags: Record<string, string[]> = {
    synth: ['--preset', '--seed', '--vocab-size', '--length', '--hidden-dim', '--blocks', '--heads', '--time-conditioning'],
    export: ['--checkpoint', '--out', '--head', '--dtype', '--no-fused'],
    generate: ['--model', '--prompt', '--steps', '--sampler', '--num-samples', '--seed', '--stride-length', '--top-p', '--eta', '--json'],
    score: ['--model', '--text', '--token-ids', '--method', '--mc-samples', '--json'],
    eval: ['ppl', 'gen-ppl'],
    bench: ['seed-tables'],
    serve: ['--model', '--port', '--max-batch-entries', '--max-score-items'],
  };
  for (const command of SUBCOMMANDS) {
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0, `${command} --help exits 0`);
    for (const flag of expectedFlags[command] ?? []) assert.ok(help.stdout.includes(flag), `${command} --help mentions ${flag}`);
  }
});

test('usage errors exit 2 and name the flag', async () => {
  const badSeed = await runCli(['synth', '--out', join(tempDir(), 'x'), '--seed', '-1']);
  assert.equal(badSeed.code, 2);
  assert.match(badSeed.stderr, /error \[invalid_argument\]: --seed: Too small/);
  const badHead = await runCli(['export', '--checkpoint', 'a', '--out', 'b', '--head', 'both']);
  assert.equal(badHead.code, 2);
  assert.match(badHead.stderr, /--head: Invalid option: expected one of "positions"\|"logits"/);
  assert.equal((await runCli(['frobnicate'])).code, 2);
  assert.equal((await runCli(['export'])).code, 2, 'a missing required option is a usage error');
});

test('synth then export writes an atomic export directory with a manifest', async () => {
  const dir = tempDir();
  const synth = await runCli(['synth', '--preset', 'tiny', '--vocab-size', '30', '--out', join(dir, 'ckpt')]);
  assert.equal(synth.code, 0, synth.stderr);
  const exported = await runCli(['export', '--checkpoint', join(dir, 'ckpt'), '--out', join(dir, 'out'), '--head', 'logits']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['manifest.json', 'model.onnx', 'model.onnx.data', 'tokenizer.json', 'tokenizer_config.json']);
  const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
  assert.equal(manifest.head, 'logits');
  assert.equal(manifest.maskIndex, 29);
  assert.match(manifest.checkpoint.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(readdirSync(dir).sort(), ['ckpt', 'out'], 'no temporary directories left');
});

/** Exports `checkpoint` into a fresh directory, expecting failure; returns stderr and checks nothing was left. */
async function failedExport(checkpoint: string): Promise<string> {
  const parent = tempDir();
  const result = await runCli(['export', '--checkpoint', checkpoint, '--out', join(parent, 'out')]);
  assert.equal(result.code, 1, `exit code 1, got ${result.code}: ${result.stderr}`);
  assert.deepEqual(readdirSync(parent), [], 'no output or temporary directory left behind');
  return result.stderr;
}

test('a missing tensor, a mis-shaped tensor, a truncated file and a bad config value each give a clear error and no output', async () => {
  const source = await synthCheckpoint();
  const rewrite = (edit: (name: string, shape: number[]) => number[] | undefined): string => {
    const dir = join(tempDir(), 'ckpt');
    mkdirSync(dir);
    const file = SafetensorsFile.open(join(source, 'model.safetensors'));
    const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
    for (const [name, info] of file.tensors) {
      const shape = edit(name, info.shape);
      if (shape === undefined) continue;
      const values = file.readFloat32(name);
      const count = shape.reduce((a, b) => a * b, 1);
      tensors[name] = { dtype: 'F32', shape, data: new Uint8Array(Float32Array.from({ length: count }, (_, i) => values[i % values.length] as number).buffer) };
    }
    file.close();
    writeRawSafetensors(join(dir, 'model.safetensors'), tensors, {});
    writeFileSync(join(dir, 'config.json'), readFileSync(join(source, 'config.json')));
    return dir;
  };
  const missing = await failedExport(rewrite((name, shape) => (name === 'backbone.blocks.1.mlp.0.bias' ? undefined : shape)));
  assert.match(missing, /error \[invalid_checkpoint\]: .*model\.safetensors does not match its config\.json:\nmissing tensors: backbone\.blocks\.1\.mlp\.0\.bias/);
  const misshaped = await failedExport(rewrite((name, shape) => (name === 'backbone.output_layer.linear.weight' ? [shape[0] as number, 16] : shape)));
  assert.match(misshaped, /mis-shaped tensor backbone\.output_layer\.linear\.weight: expected \[64, 32\], found \[64, 16\]/);

  const truncated = rewrite((_, shape) => shape);
  truncateSync(join(truncated, 'model.safetensors'), statSync(join(truncated, 'model.safetensors')).size - 100);
  assert.match(await failedExport(truncated), /error \[corrupt_file\]: .*model\.safetensors: tensors need \d+ data bytes but the file has \d+ \(truncated file\)/);

  const badConfig = rewrite((_, shape) => shape);
  const config = JSON.parse(readFileSync(join(badConfig, 'config.json'), 'utf8'));
  writeFileSync(join(badConfig, 'config.json'), JSON.stringify({ ...config, hidden_dim: 30 }));
  assert.match(await failedExport(badConfig), /error \[invalid_config\]: .*config\.json: n_heads: hidden_dim 30 is not divisible by n_heads 2|head width/);
});

test('Ctrl-C during an export leaves no output and no temporary directory', async () => {
  const checkpoint = await synthCheckpoint({ vocab_size: 50258, hidden_dim: 256, n_heads: 4, n_blocks: 4, model_length: 64 });
  const parent = tempDir();
  const { child, done } = startCli(['export', '--checkpoint', checkpoint, '--out', join(parent, 'out')]);
  // Interrupt once the export has started writing its temporary directory.
  while (!readdirSync(parent).some((name) => name.includes('.tmp-'))) {
    if (child.exitCode !== null) assert.fail('the export finished before it could be interrupted');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  child.kill('SIGINT');
  const result = await done;
  assert.equal(result.code, 130);
  assert.deepEqual(readdirSync(parent), []);
  assert.ok(!existsSync(join(parent, 'out')));
});

test('a busy port is address_in_use with the fix, not a stack trace', async () => {
  const { createServer } = await import('node:net');
  const { tinyExport } = await import('../server/helpers.js');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const result = await runCli(['serve', '--model', await tinyExport(), '--port', String(port), '--log-level', 'warn']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`error \\[address_in_use\\]: 127\\.0\\.0\\.1:${port} is in use: another server is listening there\\. Stop it, or choose another port with --port`));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    blocker.close();
  }
});

test('an export directory runs with its own dtype; a logits-head one says which flag builds what is needed', async () => {
  const dir = tempDir();
  const checkpoint = join(dir, 'ckpt');
  await runCli(['synth', '--preset', 'tiny', '--out', checkpoint]);
  const fp16 = join(dir, 'fp16');
  assert.equal((await runCli(['export', '--checkpoint', checkpoint, '--out', fp16, '--dtype', 'fp16'])).code, 0);
  const generated = await runCli(['generate', '--model', fp16, '--steps', '4', '--length', '8', '--seed', '1', '--json']);
  assert.equal(generated.code, 0, generated.stderr);
  assert.equal((JSON.parse(generated.stdout) as { samples: unknown[] }).samples.length, 1);
  const logits = join(dir, 'logits');
  assert.equal((await runCli(['export', '--checkpoint', checkpoint, '--out', logits, '--head', 'logits'])).code, 0);
  const refused = await runCli(['generate', '--model', logits, '--steps', '4']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /is a logits-head export, and the positions head is needed here: export its checkpoint .* again with `mdlm export --head positions` \(the default\)/);
});

test('mdlm generate --verbose reports the provider chosen and where start-up went, its worker thread started with the process', async () => {
  const dir = tempDir();
  const checkpoint = join(dir, 'ckpt');
  await runCli(['synth', '--preset', 'tiny', '--out', checkpoint]);
  const generated = await runCli(['generate', '--model', checkpoint, '--models-dir', join(dir, 'models'), '--steps', '4', '--length', '8', '--seed', '1', '--verbose']);
  assert.equal(generated.code, 0, generated.stderr);
  // --device auto: the provider it chose, and each one passed over with its reason.
  const choice = /^execution provider: (cuda|webgpu|cpu)(.*)$/m.exec(generated.stderr);
  assert.ok(choice !== null, generated.stderr);
  if (choice[1] !== 'cuda') assert.match(choice[2] ?? '', /^; cuda unavailable: \S/);
  const report = /start-up: ([\d.]+) s to the end of the first forward pass: node (\d+) ms, imports (\d+) ms, model resolved (\d+) ms, then side by side: tokenizer (\d+) ms \| worker (\d+) ms \(thread and onnxruntime (\d+) ms, started with the process, then (\d+) ms waiting for the model, read (\d+) ms, check (\d+) ms \(.*\), session (\d+) ms\); first pass (\d+) ms/.exec(generated.stderr);
  assert.ok(report !== null, generated.stderr);
  const [workerMs, sessionMs] = [Number(report[6]), Number(report[11])];
  assert.ok(sessionMs <= workerMs, `the session is part of the worker's time: ${generated.stderr}`);
});
