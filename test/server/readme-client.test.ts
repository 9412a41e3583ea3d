/** The README's WebSocket client, extracted and run as a user would run it: against a server, with and without the key it needs. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runProcess } from '../helpers/cli.js';
import { startServer } from './helpers.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const marker = README.indexOf('A runnable client');
const code = /```js\n([\s\S]*?)```/.exec(README.slice(marker))?.[1] ?? '';
// Beside the repository's node_modules, so that `import WebSocket from 'ws'` resolves as in the README's instructions.
const client = join(import.meta.dirname, '..', '..', 'test-artifacts', 'stream-client.mjs');
writeFileSync(client, code);
after(() => rmSync(client, { force: true }));
const server = await startServer();
const keyed = await startServer({ config: { apiKey: 'readme-key' } });

test('the README’s client streams a generation and rebuilds it from the steps', async () => {
  const result = await runProcess(process.execPath, [client], { MDLM_URL: `${server.url.replace('http', 'ws')}/v1/stream` });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^started: seed 1, 32 tokens, 2 of them prompt\n/);
  assert.match(result.stdout, /rebuilt from the steps: true\n$/);
});

test('without the key a server needs, it says so and exits 1 instead of crashing', async () => {
  const url = `${keyed.url.replace('http', 'ws')}/v1/stream`;
  const refused = await runProcess(process.execPath, [client], { MDLM_URL: url });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^cannot stream from ws:.* Unexpected server response: 401 \(set MDLM_API_KEY\)\n$/);
  const accepted = await runProcess(process.execPath, [client], { MDLM_URL: url, MDLM_API_KEY: 'readme-key' });
  assert.equal(accepted.code, 0, accepted.stderr);
});
