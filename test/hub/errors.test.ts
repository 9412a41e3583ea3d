import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCodes, MdlmError } from '../../src/errors.js';
import { resolveModel } from '../../src/hub/index.js';
import { MDLM_REPO, checkpointFiles, closedPortUrl, gpt2TokenizerFiles, leftovers, requestLines, silentHubUrl, startHubWorld } from './helpers.js';

const world = await startHubWorld();
const { hub } = world;
const GATED_REPO = 'acme/gated-mdlm';
const GATE_TOKEN = 'hf_letmein';
hub.commit(GATED_REPO, { ...(await checkpointFiles(3)), ...gpt2TokenizerFiles() });
hub.gate(GATED_REPO, GATE_TOKEN);

/** Asserts that `promise` fails with an MdlmError of `code` whose message contains every one of `phrases`. */
async function rejectsWith(promise: Promise<unknown>, code: string, phrases: string[]): Promise<MdlmError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof MdlmError, String(error));
  assert.equal(error.code, code, error.message);
  for (const phrase of phrases) assert.ok(error.message.includes(phrase), `"${phrase}" missing from: ${error.message}`);
  return error;
}

test('an unknown repository or revision is hub_not_found, naming it', async () => {
  await rejectsWith(resolveModel('nobody/nothing', world.freshOptions()), ErrorCodes.hubNotFound, ['nobody/nothing@main', 'HTTP 404', 'Repository not found']);
  await rejectsWith(resolveModel(`${MDLM_REPO}@no-such-branch`, world.freshOptions()), ErrorCodes.hubNotFound, [`${MDLM_REPO}@no-such-branch`, 'Invalid rev id']);
});

test('a repository without model.safetensors is hub_not_found, naming the file', async () => {
  hub.commit('acme/not-a-model', gpt2TokenizerFiles());
  await rejectsWith(resolveModel('acme/not-a-model', world.freshOptions()), ErrorCodes.hubNotFound, ['config.json and model.safetensors']);
});

test('a gated repository is hub_unauthorized without the right token, and resolves with it', async () => {
  await rejectsWith(resolveModel(GATED_REPO, world.freshOptions()), ErrorCodes.hubUnauthorized, ['HTTP 401', 'gated or private', 'set HF_TOKEN']);
  await rejectsWith(resolveModel(GATED_REPO, { ...world.freshOptions(), token: 'hf_wrong' }), ErrorCodes.hubUnauthorized, ['token in HF_TOKEN cannot read it']);
  hub.clearRequests();
  const resolved = await resolveModel(GATED_REPO, { ...world.freshOptions(), token: GATE_TOKEN });
  assert.equal(resolved.manifest.tokenizer, true);
  const toGatedRepo = hub.requests.filter((request) => request.path.includes(GATED_REPO));
  assert.ok(toGatedRepo.every((request) => request.authorization === `Bearer ${GATE_TOKEN}`));
});

test('a token that is not a Hugging Face token is rejected before any request', async () => {
  hub.clearRequests();
  await rejectsWith(resolveModel(MDLM_REPO, { ...world.freshOptions(), token: 'secret' }), ErrorCodes.invalidArgument, ['HF_TOKEN', 'hf_']);
  assert.deepEqual(requestLines(hub), []);
});

test('any other HTTP error is hub_error with its status', async (t) => {
  t.after(() => hub.clearFaults());
  hub.failWith(/\/revision\//, 500);
  await rejectsWith(resolveModel(MDLM_REPO, world.freshOptions()), ErrorCodes.hubError, ['HTTP 500', `${MDLM_REPO}@main`]);
  hub.clearFaults();
  hub.failWith(/\/resolve\/.*model\.safetensors$/, 503);
  const options = world.freshOptions();
  await rejectsWith(resolveModel(MDLM_REPO, options), ErrorCodes.hubError, ['HTTP 503', `model.safetensors in ${MDLM_REPO}@main`]);
  assert.deepEqual(leftovers(options.cacheDir ?? ''), []);
});

test('with the hub down and nothing cached: hub_unreachable, saying how to work offline', async () => {
  const options = { ...world.freshOptions(), hubUrl: await closedPortUrl() };
  await rejectsWith(resolveModel(MDLM_REPO, options), ErrorCodes.hubUnreachable, ['is unreachable', 'ECONNREFUSED', 'not in the Hugging Face cache', 'HF_HUB_OFFLINE=1', '--model /path/to/local/dir']);
});

test('offline with an empty cache: hub_unreachable, without a request', async () => {
  hub.clearRequests();
  await rejectsWith(resolveModel(MDLM_REPO, { ...world.freshOptions(), offline: true }), ErrorCodes.hubUnreachable, ['offline mode (HF_HUB_OFFLINE)', 'not in the Hugging Face cache', '--model /path/to/local/dir']);
  assert.deepEqual(requestLines(hub), []);
});

test('with the hub down and the model cached: the cache is used, and the result says so', async () => {
  const options = world.freshOptions();
  const online = await resolveModel(MDLM_REPO, options);
  const fallback = await resolveModel(MDLM_REPO, { ...options, hubUrl: await closedPortUrl() });
  assert.equal(fallback.exportDir, online.exportDir);
  assert.equal(fallback.source.cacheOnly, 'hub-unreachable');
  assert.equal(fallback.notices.length, 1);
  assert.match(fallback.notices[0] ?? '', /is unreachable \(connect ECONNREFUSED .*\): using kuleshov-group\/mdlm-owt@main from the Hugging Face cache \(commit [0-9a-f]{40}\), which may be out of date/);
});

test('a hub that does not answer within HF_HUB_ETAG_TIMEOUT counts as unreachable', async (t) => {
  const options = world.freshOptions();
  await resolveModel(MDLM_REPO, options);
  process.env.HF_HUB_ETAG_TIMEOUT = '0.2';
  t.after(() => delete process.env.HF_HUB_ETAG_TIMEOUT);
  const fallback = await resolveModel(MDLM_REPO, { ...options, hubUrl: await silentHubUrl() });
  assert.equal(fallback.source.cacheOnly, 'hub-unreachable');
  assert.match(fallback.notices[0] ?? '', /is unreachable \(no answer within HF_HUB_ETAG_TIMEOUT\)/);
});

test('references: bad ids are invalid_argument, missing paths are model_not_found', async () => {
  for (const reference of ['', 'mdlm-owt', 'a/b/c', 'owner/na--me', 'owner/name@', 'owner/name@../../etc', 'owner/-name']) {
    await rejectsWith(resolveModel(reference, world.freshOptions()), ErrorCodes.invalidArgument, []);
  }
  for (const reference of ['./no/such/dir', '/no/such/dir', '../no-such-dir', '~/no-such-dir-for-mdlm']) {
    await rejectsWith(resolveModel(reference, world.freshOptions()), ErrorCodes.modelNotFound, [reference]);
  }
});
