/**
 * The check stamp: an export whose files are as they were at their last full check skips the
 * hashing and the weight scan; any change to a file, or a file changed too recently to be told
 * apart from a later change, gets the full check again.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { readManifest } from '../../src/families/index.js';
import { CHECK_STAMP_FILE, checkExport } from '../../src/model/load.js';
import { exportHead, synthCheckpoint } from '../helpers/models.js';

/** Longer than the stamp's margin for coarse change times. */
const SETTLE_MS = 1100;

async function settledExport(): Promise<{ dir: string; location: Parameters<typeof checkExport>[0] }> {
  const dir = await exportHead(await synthCheckpoint({ hidden_dim: 32, n_heads: 2 }), 'positions');
  const manifest = await readManifest(dir);
  await sleep(SETTLE_MS);
  return { dir, location: { dir, files: manifest.files, dtype: manifest.dtype } };
}

test('a fresh export is checked in full and not stamped: its files changed less than the margin ago', async () => {
  const dir = await exportHead(await synthCheckpoint(), 'positions');
  const manifest = await readManifest(dir);
  const first = checkExport({ dir, files: manifest.files, dtype: manifest.dtype });
  assert.equal(first.check, 'full');
  assert.equal(existsSync(join(dir, CHECK_STAMP_FILE)), false);
});

test('settled files are stamped by their full check; the next read only matches the stamp and gives the same bytes', async () => {
  const { dir, location } = await settledExport();
  const full = checkExport(location);
  assert.equal(full.check, 'full');
  assert.ok(existsSync(join(dir, CHECK_STAMP_FILE)));
  const stamped = checkExport(location);
  assert.equal(stamped.check, 'stamp');
  assert.deepEqual(stamped.data, full.data);
  assert.deepEqual(stamped.model, full.model);
});

test('a byte changed in place after stamping (same size) is caught by the full check the changed ctime calls for', async () => {
  const { dir, location } = await settledExport();
  checkExport(location);
  assert.equal(checkExport(location).check, 'stamp');
  const dataPath = join(dir, location.files.data);
  const fd = openSync(dataPath, 'r+');
  writeSync(fd, Buffer.from([(readFileSync(dataPath)[100] as number) ^ 0xff]), 0, 1, 100);
  closeSync(fd);
  assert.throws(() => checkExport(location), { code: 'corrupt_file', message: /sha256 does not match the manifest/ });
});

test('a stamp for other hashes, or an unreadable stamp, is no stamp', async () => {
  const { dir, location } = await settledExport();
  checkExport(location);
  const otherHash = { ...location, files: { ...location.files, dataSha256: '0'.repeat(64) } };
  assert.throws(() => checkExport(otherHash), { code: 'corrupt_file' }, 'the manifest names other bytes: checked in full, and refused');
  writeFileSync(join(dir, CHECK_STAMP_FILE), '{ truncated');
  assert.equal(checkExport(location).check, 'full');
  rmSync(join(dir, CHECK_STAMP_FILE));
  assert.equal(checkExport(location).check, 'full');
});
