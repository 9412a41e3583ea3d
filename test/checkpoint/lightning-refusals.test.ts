import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { LightningCheckpoint } from '../../src/checkpoint/lightning/index.js';

/** A file a reader must refuse, as test/reference/make_ckpt_fixtures.py describes it. */
interface Refusal {
  file: string;
  code: string;
  /** What the message must name: the global, tensor, field or record at fault. */
  names: string[];
  /** For hostile pickles whose payload torch.load runs: the file that payload creates. */
  marker?: string | null;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'ckpt');
const REFUSALS = JSON.parse(readFileSync(join(FIXTURES, 'broken.json'), 'utf8')) as Refusal[];
const HOSTILE = REFUSALS.filter((refusal) => refusal.file.startsWith('hostile-'));
const LIVE = HOSTILE.filter((refusal): refusal is Refusal & { marker: string } => typeof refusal.marker === 'string');

async function refusal(file: string): Promise<Error & { code?: string }> {
  try {
    (await LightningCheckpoint.open(join(FIXTURES, file))).close();
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail(`${file} was opened`);
}

function assertRefused(error: Error & { code?: string }, want: Refusal): void {
  assert.equal(error.code, want.code, `${want.file}: ${error.message}`);
  for (const name of want.names) assert.ok(error.message.includes(name), `${want.file}: the message names ${name}: ${error.message}`);
}

test('broken checkpoints are refused with the right code, naming what is at fault', async () => {
  const broken = REFUSALS.filter((want) => !HOSTILE.includes(want));
  assert.ok(broken.length >= 12, 'truncated, missing storage, int64, config mismatch, ... are all described');
  for (const want of broken) assertRefused(await refusal(want.file), want);
});

test('hostile pickles are refused, naming the global, and their payloads never run', async () => {
  assert.ok(LIVE.length >= 14, 'the generator checked that torch.load runs these payloads');
  // The payloads create files in this folder; it exists so that one that ran would succeed.
  const markers = dirname(LIVE[0]?.marker as string);
  assert.ok(LIVE.every((want) => dirname(want.marker) === markers));
  mkdirSync(markers, { recursive: true });
  after(() => rmSync(markers, { recursive: true, force: true }));
  for (const want of HOSTILE) {
    if (want.marker) rmSync(want.marker, { force: true });
    assertRefused(await refusal(want.file), want);
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // as long as a spawned `touch` would take
  for (const want of LIVE) assert.equal(existsSync(want.marker), false, `${want.file} ran its payload`);
});

test('an unknown class is tolerated in hyper_parameters but refused among the weights', async () => {
  // The same kind of object: NEWOBJ of a class this reader does not know, then BUILD.
  await LightningCheckpoint.open(join(FIXTURES, 'mdlm.ckpt')).then((ckpt) => ckpt.close());
  const smuggled = await refusal('hostile-memo-smuggle.ckpt');
  assert.equal(smuggled.code, 'unsafe_checkpoint');
  assert.match(smuggled.message, /state_dict\["backbone\.vocab_embed\.embedding"\] is an object of class mdlm_evil\.Tensor/);
});

test('a call through REDUCE is refused wherever it is, hyper_parameters included', async () => {
  const error = await refusal('hostile-posix-system.ckpt');
  assert.equal(error.code, 'unsafe_checkpoint');
  assert.match(error.message, /REDUCE calls posix\.system, which is not on the allow-list .*nothing was executed/);
});
