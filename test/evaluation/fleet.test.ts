/**
 * Evaluation across a fleet: `mdlm eval ppl --server` sends its batches to a running server and
 * gets exactly the figures of the local run; `--shard I/N` runs one shard, and `mdlm eval merge`
 * turns the shards into exactly the figures of one run. The real CLI against a real server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { syntheticModels } from '../../src/evaluation/index.js';
import { CKPT_VOCAB, exportCkpt, wordTokenizerDir } from '../helpers/baselines.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { gpt2VocabExport, startServer } from '../server/helpers.js';

const API_KEY = 'fleet-key';
// Built at the top level: a temporary directory made inside a test is removed when that test ends.
const model = await gpt2VocabExport();
/** A synthetic MDLM and GPT-2 sharing a vocabulary, as bench seed-tables' small scale makes them. */
const pair = await syntheticModels(tempDir(), 16);
/** The seed's AR baseline (a causal LM a server can serve), with a word-level tokenizer whose BOS and EOS are [UNK]. */
const ar = await exportCkpt('ar', 'positions', { tokenizerDir: wordTokenizerDir(CKPT_VOCAB, true) });
/** The figures that must agree; the timings differ from run to run. */
const timings = ({ wall_s: _wall, tokens_per_s: _rate, ...figures }: Record<string, unknown>) => figures;

async function corpusFile(): Promise<string> {
  const documents = [
    'The quick brown fox jumps over the lazy dog. '.repeat(24),
    'A second document, a little longer than the first one was. '.repeat(12),
    'Third.',
  ];
  const path = join(tempDir(), 'corpus.jsonl');
  await writeFile(path, documents.map((text) => JSON.stringify({ text })).join('\n'));
  return path;
}

async function evalJson(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const result = await runCli(['eval', 'ppl', ...args, '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

test('eval ppl --server equals the local run; --shard I/N, merged, equals it too', async () => {
  const data = await corpusFile();
  const server = await startServer({ exportDir: model, config: { apiKey: API_KEY } });
  const settings = ['--data', data, '--batch-size', '2', '--mc-samples', '3', '--seed', '5'];

  const local = await evalJson(['--model', model, ...settings]);
  assert.ok((local.rows as number) >= 5, `several batches (${local.rows} rows)`);
  // One batch in flight: its rows have the server's passes to themselves, as the local run's have.
  const remote = await evalJson(['--server', server.url, ...settings], { MDLM_API_KEY: API_KEY });
  assert.deepEqual(timings(remote), timings(local));

  const dir = tempDir();
  const shards: string[] = [];
  for (const index of [2, 0, 1]) {
    // Shard 1 as an Indexed Job's pod runs it: the count alone, the index from JOB_COMPLETION_INDEX.
    const shard = index === 1 ? ['--shard', '3'] : ['--shard', `${index}/3`];
    const report = await evalJson(['--server', server.url, '--api-key', API_KEY, ...shard, ...settings], index === 1 ? { JOB_COMPLETION_INDEX: '1' } : {});
    assert.deepEqual(report.shard, { index, count: 3 });
    const file = join(dir, `ppl-${index}.json`);
    await writeFile(file, JSON.stringify(report));
    shards.push(file);
  }
  const merged = await runCli(['eval', 'merge', ...shards, '--json']);
  assert.equal(merged.code, 0, merged.stderr);
  assert.deepEqual(timings(JSON.parse(merged.stdout) as Record<string, unknown>), timings(local));

  const missing = await runCli(['eval', 'merge', ...shards.slice(0, 2)]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error \[invalid_shards\]: eval merge: shard 1 of 3 missing/);
});

test('eval ppl --server: refused flags, a wrong key and a server that is not there, each said plainly', async () => {
  const data = await corpusFile();
  const server = await startServer({ exportDir: model, config: { apiKey: API_KEY } });
  const both = await runCli(['eval', 'ppl', '--server', server.url, '--model', model, '--data', data]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /error \[invalid_argument\]: --model: the server's model is used with --server; drop it/);
  const unauthorized = await runCli(['eval', 'ppl', '--server', server.url, '--data', data]);
  assert.equal(unauthorized.code, 1);
  assert.match(unauthorized.stderr, /error \[unauthorized\]: the server at http:\/\/127\.0\.0\.1:\d+ answered 401: /);
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const { port } = closed.address() as AddressInfo;
  closed.close();
  const nobody = await runCli(['eval', 'ppl', '--server', `http://127.0.0.1:${port}`, '--data', data]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /error \[server_unreachable\]: cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  const badShard = await runCli(['eval', 'ppl', '--server', server.url, '--data', data, '--shard', '3'], { JOB_COMPLETION_INDEX: '' });
  assert.equal(badShard.code, 2);
  assert.match(badShard.stderr, /--shard: the shard index JOB_COMPLETION_INDEX \(\) is not a whole number/);
});

const TINY_TABLES = [
  '--scale',
  'small',
  '--samples',
  '2',
  '--steps',
  '4,8',
  '--length',
  '16',
  '--sequences',
  '2',
  '--semi-ar-steps',
  '4',
  '--stride-length',
  '8',
  '--num-strides',
  '2',
  '--device',
  'cpu',
  '--json',
];

/** The tables without their timings. */
function tableFigures(report: { wallClock: Record<string, unknown>[]; semiAr: Record<string, unknown> }) {
  const { secondsPerSequence: _s, ...semiAr } = report.semiAr;
  return { wallClock: report.wallClock.map(({ secondsPerSample: _p, totalSeconds: _t, ...row }) => row), semiAr };
}

test('bench seed-tables --server: the samples generated by the server, scored here, give the local tables', async () => {
  const server = await startServer({ exportDir: pair.mdlm });
  const local = await runCli(['bench', 'seed-tables', '--model', pair.mdlm, '--eval-model', pair.gpt2, ...TINY_TABLES]);
  assert.equal(local.code, 0, local.stderr);
  const remote = await runCli(['bench', 'seed-tables', '--server', server.url, '--eval-model', pair.gpt2, ...TINY_TABLES]);
  assert.equal(remote.code, 0, remote.stderr);
  const [fromLocal, fromServer] = [JSON.parse(local.stdout), JSON.parse(remote.stdout)];
  assert.match(fromServer.model, /^tiny at http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(tableFigures(fromServer), tableFigures(fromLocal));
});

async function genPplJson(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCli(['eval', 'gen-ppl', ...args, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

test('eval gen-ppl --shard I/N: the shards, merged, give exactly the figures of one run', async () => {
  const generated = await runCli(['generate', '--model', pair.mdlm, '--num-samples', '5', '--steps', '8', '--seed', '3', '--json']);
  assert.equal(generated.code, 0, generated.stderr);
  const samples = join(tempDir(), 'samples.json');
  await writeFile(samples, generated.stdout);
  const settings = ['--samples', samples, '--eval-model', pair.gpt2, '--batch-size', '2', '--device', 'cpu'];
  const whole = await genPplJson(settings);
  const files: string[] = [];
  for (const index of [0, 1, 2]) {
    const file = join(tempDir(), `gen-ppl-${index}.json`);
    await writeFile(file, JSON.stringify(await genPplJson([...settings, '--shard', `${index}/3`])));
    files.push(file);
  }
  const merged = await runCli(['eval', 'merge', ...files, '--json']);
  assert.equal(merged.code, 0, merged.stderr);
  assert.deepEqual(JSON.parse(merged.stdout), whole);
});

test('eval gen-ppl --server: a server of a causal model (the AR baseline) scores the samples as the same model does here', async () => {
  const server = await startServer({ exportDir: ar });
  const generated = await runCli(['generate', '--model', ar, '--num-samples', '4', '--seed', '2', '--json']);
  assert.equal(generated.code, 0, generated.stderr);
  const samples = join(tempDir(), 'samples.json');
  await writeFile(samples, generated.stdout);
  const local = await genPplJson(['--samples', samples, '--eval-model', ar, '--batch-size', '3', '--device', 'cpu']);
  const remote = await genPplJson(['--samples', samples, '--server', server.url, '--batch-size', '3']);
  const { eval_model: _localName, provider: _cpu, ...figures } = local;
  const { eval_model: remoteName, provider: url, ...remoteFigures } = remote;
  assert.equal(url, server.url);
  assert.match(remoteName as string, / at http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(remoteFigures, figures);
  const diffusion = await startServer({ exportDir: pair.mdlm });
  const refused = await runCli(['eval', 'gen-ppl', '--samples', samples, '--server', diffusion.url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /error \[unsupported_model\]: the server at .* serves tiny, a subs model; generative perplexity needs a causal LM/);
});
