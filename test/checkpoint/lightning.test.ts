import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Checkpoint } from '../../src/checkpoint/index.js';
import { LightningCheckpoint, type LightningWeights, type PlainValue } from '../../src/checkpoint/lightning/index.js';
import { tempDir } from '../helpers/tmp.js';

/** torch's own view of the fixtures, written by test/reference/make_ckpt_fixtures.py. */
interface TensorFacts {
  shape: number[];
  sha256: string;
  head: number[];
}

interface ExpectedCheckpoint {
  sha256: string;
  config: Record<string, unknown>;
  parameterization: string;
  backbone: string;
  tokenizer_name: string;
  parameter_order: string[];
  raw: Record<string, TensorFacts>;
  ema?: Record<string, TensorFacts>;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'ckpt');
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, ExpectedCheckpoint>;
const WITH_EMA = Object.keys(EXPECTED).filter((file) => EXPECTED[file]?.ema !== undefined);

function expected(file: string): ExpectedCheckpoint {
  const entry = EXPECTED[file];
  assert.ok(entry, `expected.json describes ${file}`);
  return entry;
}

function facts(values: Float32Array): { sha256: string; head: number[] } {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), head: [...values.subarray(0, 4)] };
}

/** The value at a dotted path of plain data, e.g. `config.model.hidden_size`. */
function field(value: PlainValue, path: string): PlainValue | undefined {
  let at: PlainValue | undefined = value;
  for (const key of path.split('.')) {
    at = at !== null && typeof at === 'object' && !Array.isArray(at) && !(at instanceof Uint8Array) ? at[key] : undefined;
  }
  return at;
}

async function withCheckpoint<T>(path: string, weights: LightningWeights | undefined, use: (ckpt: LightningCheckpoint) => T): Promise<T> {
  const ckpt = await LightningCheckpoint.open(path, weights === undefined ? {} : { weights });
  try {
    return use(ckpt);
  } finally {
    ckpt.close();
  }
}

function assertWeights(ckpt: LightningCheckpoint, want: Record<string, TensorFacts>, order: string[]): void {
  assert.deepEqual([...ckpt.tensorShapes.keys()], order, 'tensors come in the order of backbone.parameters()');
  for (const name of order) {
    const torch = want[name] as TensorFacts;
    assert.deepEqual(ckpt.tensorShapes.get(name), torch.shape, `${name} shape`);
    const values = ckpt.weight(name);
    assert.equal(values.length, torch.shape.reduce((a, b) => a * b, 1), `${name} length`);
    assert.deepEqual(facts(values), { sha256: torch.sha256, head: torch.head }, `${name} values`);
  }
}

test('the EMA weights are read by default, exactly as torch sees them', async () => {
  assert.ok(WITH_EMA.length >= 5, 'mdlm, sedd, ar and the small variants are described');
  for (const file of WITH_EMA) {
    const want = expected(file);
    await withCheckpoint(join(FIXTURES, file), undefined, (ckpt) => {
      assert.equal(ckpt.weights, 'ema');
      assertWeights(ckpt, want.ema as Record<string, TensorFacts>, want.parameter_order);
    });
  }
});

test("weights: 'raw' reads the state_dict instead, exactly as torch sees it", async () => {
  for (const file of Object.keys(EXPECTED)) {
    const want = expected(file);
    await withCheckpoint(join(FIXTURES, file), 'raw', (ckpt) => assertWeights(ckpt, want.raw, want.parameter_order));
  }
});

test('the fixtures can tell EMA from raw weights apart', () => {
  for (const file of WITH_EMA) {
    const { ema, raw } = expected(file);
    for (const [name, torch] of Object.entries(raw)) assert.notEqual(ema?.[name]?.sha256, torch.sha256, `${file} ${name}`);
  }
});

test('the model comes from hyper_parameters.config and the embedding', async () => {
  for (const file of Object.keys(EXPECTED)) {
    const want = expected(file);
    await withCheckpoint(join(FIXTURES, file), 'raw', (ckpt) => {
      assert.deepEqual(ckpt.config, want.config, file);
      assert.equal(ckpt.backbone, want.backbone, file);
      assert.equal(ckpt.parameterization, want.parameterization, file);
      assert.equal(ckpt.tokenizerName, want.tokenizer_name, file);
      assert.equal(ckpt.sha256, want.sha256, `${file}: sha256 of the file, as Python computed it`);
      const elements = Object.values(want.raw).reduce((sum, { shape }) => sum + shape.reduce((a, b) => a * b, 1), 0);
      assert.equal(ckpt.weightBytes, elements * 4);
    });
  }
});

test('the AR baseline has no sigma_map and no adaLN modulation; SEDD has the DIT layout', () => {
  const ar = expected('ar.ckpt').parameter_order;
  assert.ok(ar.length > 0 && ar.every((name) => !name.startsWith('sigma_map.') && !name.includes('adaLN')));
  assert.deepEqual(expected('sedd.ckpt').parameter_order, expected('mdlm.ckpt').parameter_order);
});

test('hyper-parameters are plain data; the tokenizer of an unknown class is an opaque stand-in', async () => {
  await withCheckpoint(join(FIXTURES, 'mdlm.ckpt'), undefined, (ckpt) => {
    const hp = ckpt.hyperParameters;
    // The generator pickles a class it names like transformers' GPT2TokenizerFast.
    assert.deepEqual(hp.tokenizer, { $opaque: 'transformers.models.gpt2.tokenization_gpt2_fast.GPT2TokenizerFast' });
    assert.equal(field(hp, 'config.model.hidden_size'), expected('mdlm.ckpt').config.hidden_dim);
    assert.match(String(field(hp, 'config.loader.batch_size')), /^\$\{div_up:/, 'interpolations stay unresolved strings');
    assert.deepEqual(Object.keys(hp), ['config', 'tokenizer']);
  });
  await withCheckpoint(join(FIXTURES, 'sedd.ckpt'), undefined, (ckpt) => {
    const training = ['accumulate', 'seed_note', 'antithetic_sampling'].map((key) => field(ckpt.hyperParameters, `config.training.${key}`));
    assert.deepEqual(training, [1, 'typed nodes', true], 'typed OmegaConf nodes, as the generator set them');
  });
});

test('optimizer states are ignored, even with their storages missing from the zip', async () => {
  // The fixture's optimizer tensors (float64, int64) were left out of the archive.
  const want = expected('optimizer-storages-dropped.ckpt');
  await withCheckpoint(join(FIXTURES, 'optimizer-storages-dropped.ckpt'), undefined, (ckpt) => {
    assertWeights(ckpt, want.ema as Record<string, TensorFacts>, want.parameter_order);
  });
});

test('weights are read from the file when asked for, not when the checkpoint opens', async () => {
  const path = join(tempDir(), 'mdlm.ckpt');
  copyFileSync(join(FIXTURES, 'mdlm.ckpt'), path);
  const name = 'blocks.1.mlp.0.weight';
  const original = await withCheckpoint(path, undefined, (ckpt) => ckpt.weight(name));
  const at = readFileSync(path).indexOf(Buffer.from(original.buffer, original.byteOffset, original.byteLength));
  assert.ok(at > 0, 'the storage bytes are in the file as they are');
  const ckpt = await LightningCheckpoint.open(path);
  try {
    const replacement = Float32Array.from(original, (_, i) => i);
    const fd = openSync(path, 'r+');
    writeSync(fd, new Uint8Array(replacement.buffer), 0, replacement.byteLength, at);
    closeSync(fd);
    assert.deepEqual(ckpt.weight(name), replacement, 'the open checkpoint holds no copy of the storage');
    assert.deepEqual(facts(ckpt.weight('vocab_embed.embedding')).sha256, expected('mdlm.ckpt').ema?.['vocab_embed.embedding']?.sha256);
  } finally {
    ckpt.close();
  }
  assert.throws(() => ckpt.weight(name), /closed/);
});

test('unknown tensor names and weight choices are refused', async () => {
  await withCheckpoint(join(FIXTURES, 'ar.ckpt'), undefined, (ckpt) => {
    assert.throws(() => ckpt.weight('sigma_map.mlp.0.weight'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'invalid_argument');
      assert.match(error.message, /no ar tensor named sigma_map\.mlp\.0\.weight/);
      return true;
    });
  });
  await assert.rejects(LightningCheckpoint.open(join(FIXTURES, 'mdlm.ckpt'), { weights: 'best' as LightningWeights }), {
    code: 'invalid_argument',
  });
  await assert.rejects(LightningCheckpoint.open(join(FIXTURES, 'absent.ckpt')), { code: 'invalid_checkpoint' });
});

test('offers the surface the exporter uses from Checkpoint', async () => {
  await withCheckpoint(join(FIXTURES, 'mdlm.ckpt'), undefined, (ckpt) => {
    // A compile-time check as much as a run-time one: the exporter's calls type-check.
    const surface: Pick<Checkpoint, 'config' | 'weight' | 'weightBytes' | 'close'> = ckpt;
    assert.equal(surface.weight('vocab_embed.embedding').length, surface.config.vocab_size * surface.config.hidden_dim);
  });
});
