/** The README and `--help` say the same: every flag a command has is documented, and every documented flag exists. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const COMMANDS = ['synth', 'export', 'prepare', 'generate', 'score', 'eval ppl', 'eval gen-ppl', 'eval merge', 'bench seed-tables', 'bench http', 'serve'];

/** The part of the README between two headings. */
function section(from: string, to: string): string {
  const start = README.indexOf(from);
  const end = README.indexOf(to, start + from.length);
  assert.ok(start >= 0 && end > start, `the README has ${from} then ${to}`);
  return README.slice(start, end);
}

const flagsIn = (text: string) => new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? []);

async function helpFlags(command: string): Promise<Set<string>> {
  const { code, stdout } = await runCli([...command.split(' '), '--help']);
  assert.equal(code, 0);
  const flags = flagsIn(stdout.split('\n').filter((line) => /^\s+(-\w, )?--/.test(line)).map((line) => line.trim().split(/\s/).find((word) => word.startsWith('--')) ?? '').join(' '));
  flags.delete('--help');
  return flags;
}

test('every flag of every command is in the README, and the README documents no flag that does not exist', async () => {
  const documented = flagsIn(section('## The command-line tool', '## HTTP API') + section('## Configuration', '## Models, caches and offline use'));
  const all = new Set<string>();
  for (const command of COMMANDS) {
    const flags = await helpFlags(command);
    for (const flag of flags) all.add(flag);
    const missing = [...flags].filter((flag) => !documented.has(flag));
    assert.deepEqual(missing, [], `mdlm ${command} has flags the README does not document`);
  }
  const unknown = [...documented].filter((flag) => !all.has(flag) && !['--version', '--help'].includes(flag));
  assert.deepEqual(unknown, [], 'the README documents flags no command has');
});

test('mdlm --version prints the package version', async () => {
  const { code, stdout } = await runCli(['--version']);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
});
