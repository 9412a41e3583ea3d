/**
 * `mdlm bench http` as a user runs it (the installed CLI, its own process) against real servers
 * on loopback over the tiny synthetic model: seeds that make runs repeat, a server that refuses
 * part of the load, one that goes away mid-run, and one that is not there.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type BenchHttpResult, BenchHttpResultSchema, seedSources } from '../../src/benchmark/index.js';
import { shutdownGracefully } from '../../src/server/index.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { MODEL_ID, postJson, startServer, tinyExport, waitFor } from '../server/helpers.js';

// Built at the top level: a temporary directory made inside a test is removed when that test ends.
await tinyExport();
const work = tempDir();

/** Completions that stop before the first "ki" or "ba": how many tokens each keeps depends on its seed. */
const STOPPED_COMPLETION = { prompt: '', max_tokens: 24, steps: 8, stop: ['ki', 'ba'] };
const MIX = [
  { endpoint: '/v1/completions', body: STOPPED_COMPLETION },
  { endpoint: '/v1/completions', body: { ...STOPPED_COMPLETION, stream: true }, name: 'sse' },
  { endpoint: '/v1/stream', body: { length: 16, steps: 8 }, name: 'ws' },
];
const REQUESTS = 6;
const COUNTED = ['--concurrency', '1,2', '--requests', String(REQUESTS), '--warmup', '0.3', '--mix-file'];

async function mixFile(name: string, mix: unknown): Promise<string> {
  const path = join(work, name);
  await writeFile(path, JSON.stringify(mix));
  return path;
}

function parseResult(stdout: string): BenchHttpResult {
  return BenchHttpResultSchema.parse(JSON.parse(stdout));
}

const tokensOf = (result: BenchHttpResult) => result.levels.map((level) => level.entries.map((entry) => entry.tokens));

test('bench http on a real server: every figure, the same token counts from the same command, and the seeds each request got', async () => {
  const server = await startServer();
  const mix = await mixFile('mix.json', MIX);
  const chart = join(work, 'chart.html');
  const first = await runCli(['bench', 'http', '--url', server.url, ...COUNTED, mix, '--json', '--chart', chart]);
  assert.equal(first.code, 0, first.stderr);
  const result = parseResult(first.stdout);
  assert.deepEqual(result.model, { id: MODEL_ID, modelLength: 32, parameterization: 'subs', provider: 'cpu' });
  assert.deepEqual(
    result.levels.map((level) => [level.concurrency, level.inFlight, level.completed, level.failed]),
    [
      [1, 3, REQUESTS, 0],
      [2, 3, REQUESTS, 0],
    ],
    'each level runs every entry, each with at least one connection, and measures exactly the requests asked',
  );
  for (const level of result.levels) {
    const [completions, sse, ws] = level.entries;
    assert.ok(completions !== undefined && sse !== undefined && ws !== undefined);
    assert.deepEqual([completions.completed, sse.completed, ws.completed], [2, 2, 2]);
    assert.equal(ws.tokens, 2 * 16, 'a generation without a prompt generates its whole window');
    assert.deepEqual(ws.diffusion.stepsPerRequest, 8);
    const passes = ws.diffusion.forwardPassesPerRequest as number;
    assert.ok(passes >= 1 && passes <= 8, `ddpm_cache runs at most one pass per step: ${passes}`);
    assert.ok(Math.abs((ws.diffusion.tokensPerForwardPass as number) - 16 / passes) < 1e-9);
    for (const stream of [sse, ws]) {
      const [firstEvent, latency] = [stream.firstEventMs, stream.latencyMs];
      assert.ok(firstEvent !== null && latency !== null && firstEvent.p50 <= latency.p99, `${stream.name}: the first event comes before the last`);
    }
    assert.equal(completions.firstEventMs, null);
    assert.equal(completions.diffusion.forwardPassesPerRequest, null, "OpenAI's completion shape reports no passes: left out, not 0");
    const server = level.server;
    assert.ok(server !== null && level.serverNote === null);
    assert.ok((server.forwardPassesPerS as number) > 0 && (server.meanRowsPerPass as number) >= 1 && (server.busy as number) > 0);
    assert.ok(server.queueDepth !== null);
  }
  assert.deepEqual(tokensOf(result)[0], tokensOf(result)[1], 'every level sends the same requests');

  // The seeds are the entry's seeded stream: the same completions sent one by one keep as many tokens.
  const seeds = seedSources(0, MIX.length, 'measured')[0] as () => number;
  let expected = 0;
  for (let i = 0; i < 2; i++) {
    const answer = await (await postJson(`${server.url}/v1/completions`, { model: MODEL_ID, ...STOPPED_COMPLETION, seed: seeds() })).json();
    expected += answer.usage.completion_tokens;
  }
  assert.equal(result.levels[0]?.entries[0]?.tokens, expected);

  const again = await runCli(['bench', 'http', '--url', server.url, ...COUNTED, mix, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(tokensOf(parseResult(again.stdout)), tokensOf(result), 'the same command gives the same token counts');
  const reseeded = await runCli(['bench', 'http', '--url', server.url, ...COUNTED, mix, '--json', '--seed', '1']);
  assert.equal(reseeded.code, 0, reseeded.stderr);
  assert.notDeepEqual(tokensOf(parseResult(reseeded.stdout)), tokensOf(result), 'another --seed sends other requests');

  const page = await readFile(chart, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.doesNotMatch(page, /<script|<link|https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/, 'nothing is fetched: the page opens offline');
  assert.equal((page.match(/<polyline /g) ?? []).length, 2 * MIX.length, 'a p50 and a p99 curve per entry');
  assert.match(page, /\| concurrency \| request \| done \| failed \| req\/s \| tokens\/s \| p50 ms \| p90 ms \| p99 ms \|/);
  assert.match(page, /\n\| 2 \| ws \| 2 \| 0 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \/ [\d.]+ \| 8\.0 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
});

test('bench http counts refusals by status and code, and fails the command past --max-error-rate', async () => {
  // One sequence at a time: concurrent requests beyond it are refused with 503 overloaded.
  const server = await startServer({ config: { maxQueue: 1, limits: { maxNumSamples: 1 } } });
  const args = ['bench', 'http', '--url', server.url, '--mix', 'generate,sse,ws', '--steps', '4', '--concurrency', '6', '--duration', '2', '--warmup', '0'];
  const tolerated = await runCli([...args, '--max-error-rate', '1', '--json']);
  assert.equal(tolerated.code, 0, tolerated.stderr);
  const level = parseResult(tolerated.stdout).levels[0];
  assert.ok(level !== undefined && level.completed > 0 && level.failed > 0, JSON.stringify(level));
  const errors = level.entries.flatMap((entry) => entry.errors.map((error) => `${entry.name} ${error.status} ${error.code}`));
  assert.ok(errors.length > 0 && errors.every((error) => /^(generate 503|sse 503|ws null) overloaded$/.test(error)), errors.join('; '));
  assert.equal(
    level.failed,
    level.entries.reduce((sum, entry) => sum + entry.errors.reduce((count, error) => count + error.count, 0), 0),
  );

  const failing = await runCli([...args, '--duration', '1']);
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /error \[bench_requests_failed\]: \d+ of \d+ requests failed at concurrency 6 .*overloaded/);
  assert.match(
    failing.stdout,
    /\| concurrency \| request \| status \| code \| count \| first message \|\n.*\n\| 6 \| \w+ \| (503|–) \| overloaded \| \d+ \| the queue is full/,
    'the tables are printed all the same',
  );
});

test('bench http reports a server that goes away mid-run, a wrong key and no server at all, with their codes', async () => {
  const server = await startServer({ config: { apiKey: 'right' } });
  const wrongKey = await runCli(['bench', 'http', '--url', server.url], { MDLM_API_KEY: 'wrong' });
  assert.equal(wrongKey.code, 1);
  assert.match(
    wrongKey.stderr,
    /error \[unauthorized\]: .*\/v1\/models answered 401 unauthorized: the API key is not valid \(give the key with --api-key or MDLM_API_KEY\)/,
  );

  const run = startCli([
    'bench',
    'http',
    '--url',
    server.url,
    '--api-key',
    'right',
    '--mix',
    'generate,sse,ws',
    '--steps',
    '16',
    '--concurrency',
    '2',
    '--duration',
    '30',
    '--warmup',
    '0',
  ]);
  await waitFor(() => server.service.status().activeSequences > 0, 'the bench to load the server', 20_000);
  await shutdownGracefully(server.app, 1000);
  const stopped = await run.done;
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /error \[server_unreachable\]: the server at http:\/\/127\.0\.0\.1:\d+ stopped answering during concurrency 2 /);
  assert.match(stopped.stderr, /during concurrency 2 \(measured window, after [\d.]+ s\): .*ECONNREFUSED/);
  assert.equal(stopped.stdout, '', 'no table of zeros for the level it could not finish');

  const absent = await runCli(['bench', 'http', '--url', `http://127.0.0.1:${await closedPort()}`]);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /error \[server_unreachable\]: no server answers at http:\/\/127\.0\.0\.1:\d+\/v1\/models: connect ECONNREFUSED/);
});

test('bench http refuses a bad mix file or contradictory flags before contacting the server, naming what is wrong', async () => {
  const mix = await mixFile('bad-mix.json', [
    { endpoint: '/v1/generate', weight: 0 },
    { endpoint: '/v1/stream', body: { id: 'mine' } },
    { endpoint: '/v1/chat' },
  ]);
  const bad = await runCli(['bench', 'http', '--url', 'http://127.0.0.1:9', '--mix-file', mix]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    new RegExp(
      'error \\[invalid_argument\\]: --mix-file .*bad-mix\\.json: entry 1 weight: Too small.*; ' +
        'entry 2 body\\.id: is set by the bench for each message; leave it out; entry 3 endpoint: Invalid option',
    ),
  );
  const kind = await runCli(['bench', 'http', '--url', 'http://127.0.0.1:9', '--mix', 'generate,chat']);
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /--mix\.1\.kind: unknown kind "chat": the kinds are generate, completions, sse, score, ws/);
  const contradictory = await runCli(['bench', 'http', '--url', 'http://127.0.0.1:9', '--concurrency', '4', '--rate', '10', '--mix-file', mix, '--steps', '8']);
  assert.equal(contradictory.code, 2);
  assert.match(
    contradictory.stderr,
    /--rate: sweep over --concurrency or over --rate, not both; --steps: shapes the default bodies of --mix kinds; a --mix-file gives its bodies whole/,
  );
});

/** A loopback port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
