/**
 * `npm test`'s runner: node:test's own (every file in a process of its own, the default output:
 * spec on a terminal, TAP otherwise), then the ten slowest tests of the run, so that a test
 * grown slow shows in every log. A script rather than `node --test` with a reporter: Node 20
 * loads reporters before any --import hook, so a reporter could not be TypeScript.
 *
 *   node --import tsx test/run.ts [--concurrency N] FILE|DIR...
 *
 * A directory stands for every *.test.ts below it, so tests in nested folders (test/families/…)
 * cannot be left out by a shell glob of the wrong depth.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { run } from 'node:test';
import { type TestEvent, spec, tap } from 'node:test/reporters';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const SHOWN = 10;

const ArgsSchema = z.object({
  concurrency: z.coerce.number().int().positive().default(1),
  files: z.array(z.string().min(1)).min(1),
});

interface Timed {
  name: string;
  file: string;
  durationMs: number;
}

/** A test file as it is, a directory as the test files below it (sorted, for a stable order). */
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const below = readdirSync(path, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.test.ts'));
  return below.sort().map((name) => join(path, name));
}

const { values, positionals } = parseArgs({ options: { concurrency: { type: 'string' } }, allowPositionals: true });
const args = ArgsSchema.parse({ ...values, files: positionals.flatMap(testFiles) });

const timed: Timed[] = [];
async function* recorded(events: AsyncIterable<TestEvent>): AsyncGenerator<TestEvent, void> {
  for await (const event of events) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.details.type !== 'suite') {
      timed.push({ name: event.data.name, file: relative(process.cwd(), event.data.file ?? ''), durationMs: event.data.details.duration_ms });
    }
    if (event.type === 'test:fail') process.exitCode = 1;
    yield event;
  }
}

const events = recorded(run({ files: args.files, concurrency: args.concurrency }));
const output = process.stdout.isTTY ? Readable.from(events).pipe(new spec()) : tap(events);
for await (const chunk of output) process.stdout.write(chunk);
process.stdout.write(`\nThe ${SHOWN} slowest tests (wall time; each file runs in a process of its own, ${args.concurrency} at a time):\n`);
for (const test of timed.sort((a, b) => b.durationMs - a.durationMs).slice(0, SHOWN)) {
  process.stdout.write(`${(test.durationMs / 1000).toFixed(1).padStart(7)} s  ${test.file}  ${test.name}\n`);
}
