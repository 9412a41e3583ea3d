/**
 * Settings that contradict one another are refused at start-up, by the config and by the
 * serve command's flags alike, instead of failing every request that falls between them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerConfig } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';

test('--max-queue below --max-num-samples is refused: such a request could never be admitted', async () => {
  assert.throws(() => parseServerConfig({ maxQueue: 4, limits: { maxNumSamples: 8 } }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, /^server config: maxQueue: must be at least --max-num-samples \(8\)/);
    return true;
  });
  assert.equal(parseServerConfig({ maxQueue: 8, limits: { maxNumSamples: 8 } }).maxQueue, 8, 'equal is enough');
  // The flags are checked before any model is resolved, so the reference need not exist.
  const refused = await runCli(['serve', '--model', 'no/such-model', '--max-queue', '4'], { MDLM_MAX_NUM_SAMPLES: '8' });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /error \[invalid_argument\]: --max-queue: must be at least --max-num-samples \(8\)/);
});

test('the transport timeouts are flags with environment variables, and the headers timeout cannot exceed the request timeout', async () => {
  const help = await runCli(['serve', '--help']);
  for (const flag of ['--headers-timeout-ms', '--request-timeout-ms', '--keep-alive-timeout-ms']) assert.ok(help.stdout.includes(flag), `--help lists ${flag}`);
  assert.match(help.stdout, /MDLM_REQUEST_TIMEOUT_MS/);
  assert.match(help.stdout, /\/readyz answers 503, new requests get\s+shutting_down/);
  const config = parseServerConfig({});
  assert.deepEqual([config.headersTimeoutMs, config.requestTimeoutMs, config.keepAliveTimeoutMs], [10_000, 30_000, 72_000]);
  const refused = await runCli(['serve', '--model', 'no/such-model', '--headers-timeout-ms', '5000'], { MDLM_REQUEST_TIMEOUT_MS: '1000' });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--headers-timeout-ms: must be at most --request-timeout-ms \(1000\)/);
});
