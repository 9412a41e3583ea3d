import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { DEFAULT_HUB_URL, defaultModelsDir, hubSettings } from '../../src/hub/settings.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

test('the HF cache directory follows Python huggingface_hub’s precedence', () => {
  const cacheDir = (env: NodeJS.ProcessEnv) => hubSettings({}, env).cacheDir;
  assert.equal(cacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/xdg' }), '/xdg/huggingface/hub');
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/xdg', HF_HOME: '/hf-home' }), '/hf-home/hub');
  assert.equal(cacheDir({ HF_HOME: '/hf-home', HUGGINGFACE_HUB_CACHE: '/legacy' }), '/legacy');
  assert.equal(cacheDir({ HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: '/hub-cache' }), '/hub-cache');
  assert.equal(cacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
  assert.equal(cacheDir({ HF_HOME: '' }), join(homedir(), '.cache', 'huggingface', 'hub'), 'an empty variable counts as unset');
  assert.equal(hubSettings({ cacheDir: '/explicit' }, { HF_HUB_CACHE: '/hub-cache' }).cacheDir, '/explicit');
});

test('HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE are read, and options override them', () => {
  assert.equal(hubSettings({}, {}).hubUrl, DEFAULT_HUB_URL);
  assert.equal(hubSettings({}, { HF_ENDPOINT: 'https://hf-mirror.com/' }).hubUrl, 'https://hf-mirror.com');
  assert.equal(hubSettings({ hubUrl: 'http://127.0.0.1:9' }, { HF_ENDPOINT: 'https://hf-mirror.com' }).hubUrl, 'http://127.0.0.1:9');
  assert.throws(() => hubSettings({}, { HF_ENDPOINT: 'hf-mirror.com' }), { code: ErrorCodes.invalidArgument, message: /HF_ENDPOINT/ });

  assert.equal(hubSettings({}, { HF_TOKEN: 'hf_env' }).token, 'hf_env');
  assert.equal(hubSettings({ token: 'hf_option' }, { HF_TOKEN: 'hf_env' }).token, 'hf_option');
  assert.equal(hubSettings({}, {}).token, undefined);

  for (const value of ['1', 'true', 'TRUE', 'yes', 'on']) assert.equal(hubSettings({}, { HF_HUB_OFFLINE: value }).offline, true, value);
  for (const value of ['0', 'false', '', 'no']) assert.equal(hubSettings({}, { HF_HUB_OFFLINE: value }).offline, false, value);
  assert.equal(hubSettings({ offline: false }, { HF_HUB_OFFLINE: '1' }).offline, false);
});

test('HF_HUB_ETAG_TIMEOUT bounds the metadata requests, 10 s by default', () => {
  assert.equal(hubSettings({}, {}).metadataTimeoutMs, 10_000);
  assert.equal(hubSettings({}, { HF_HUB_ETAG_TIMEOUT: '2.5' }).metadataTimeoutMs, 2_500);
  assert.throws(() => hubSettings({}, { HF_HUB_ETAG_TIMEOUT: 'soon' }), { code: ErrorCodes.invalidArgument, message: /HF_HUB_ETAG_TIMEOUT/ });
});

test('the conversion cache defaults to MDLM_MODELS_DIR, else models/ in the package root', () => {
  assert.equal(defaultModelsDir({}), join(REPO_ROOT, 'models'));
  assert.equal(defaultModelsDir({ MDLM_MODELS_DIR: '/models' }), '/models');
});
