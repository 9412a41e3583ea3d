/**
 * The playground end to end: a real server over the tiny synthetic model (V 64, L 32,
 * word-level tokenizer), the page in Debian's headless chromium driven by playwright-core.
 * CI installs the browser with `apt-get install -y --no-install-recommends chromium`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { LONG_REQUEST, MODEL_ID, postJson, startServer, waitFor } from '../server/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** The probe's flags: without the background-networking ones, the closed network refuses chromium's own connections. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/playground/', import.meta.url));
const PHONE_WIDTH = 375;

async function launchBrowser(): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  const profile = await mkdtemp(join(tmpdir(), 'mdlm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  // The profile goes once the browser has stopped writing to it.
  after(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}

const server = await startServer();
const browser = await launchBrowser();

/** Uncaught exceptions in the page: a page that breaks silently fails the test. */
const pageErrors: Error[] = [];
afterEach(() => assert.deepEqual(pageErrors.splice(0), [], 'uncaught errors in the page'));

/** The page, loaded, with the model described: every control is in place. */
async function openPlayground(url = server.url, waitForModel = true): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(url);
  if (waitForModel) await page.locator('#model', { hasText: MODEL_ID }).waitFor();
  return page;
}

/** Fills the form: a field left out is emptied, so each test states exactly what it sends. */
async function fill(page: Page, fields: Record<string, string>): Promise<void> {
  for (const name of ['prompt', 'suffix', 'length', 'steps', 'seed', 'num_samples', 'temperature', 'top_p', 'top_k', 'eta', 't_on', 't_off', 'alpha_on', 'semi_ar.stride_length', 'semi_ar.num_strides']) {
    await page.locator(`[name="${name}"]`).fill(fields[name] ?? '');
  }
  await page.locator('[name="sampler"]').selectOption(fields.sampler ?? 'ddpm_cache');
}

async function status(page: Page, text: RegExp): Promise<void> {
  await page.locator('#status', { hasText: text }).waitFor({ timeout: 20_000 });
}

const canvasTexts = (page: Page): Promise<string[]> => page.locator('.sample .canvas').allTextContents();

/** One sample's canvas after a render: its mask cells and the text of its highlighted tokens. */
interface CanvasState {
  sample: number;
  masks: number;
  /** Cells whose token just went back to the mask. */
  remasked: number;
  fresh: string[];
}

/** Records every state the canvases go through: one per render, for the sample rendered. */
async function recordCanvasStates(page: Page): Promise<() => Promise<CanvasState[]>> {
  await page.evaluate(() => {
    const states: CanvasState[] = [];
    (window as unknown as { canvasStates: CanvasState[] }).canvasStates = states;
    new MutationObserver((mutations) => {
      const samples = document.querySelectorAll('.sample');
      const rendered = new Set(mutations.map((mutation) => (mutation.target as Element).closest?.('.sample')));
      samples.forEach((sample, index) => {
        if (!rendered.has(sample)) return;
        const fresh = Array.from(sample.querySelectorAll('.fresh'), (mark) => mark.textContent ?? '');
        states.push({ sample: index, masks: sample.querySelectorAll('.mask').length, remasked: sample.querySelectorAll('.mask.remasked').length, fresh });
      });
    }).observe(document.querySelector('#samples') as Element, { childList: true, subtree: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { canvasStates: CanvasState[] }).canvasStates);
}

interface RestResult {
  samples: { text: string; token_ids: number[] }[];
  stats: { steps: number; forward_passes: number; prompt_tokens: number };
}

async function restGenerate(body: Record<string, unknown>): Promise<RestResult> {
  const response = await postJson(`${server.url}/v1/generate`, body);
  assert.equal(response.status, 200);
  return (await response.json()) as RestResult;
}

async function screenshot(page: Page, name: string, diagnostic: (message: string) => void): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}`;
  await page.screenshot({ path, fullPage: true });
  diagnostic(`screenshot: ${path}`);
}

/** fetch() cannot make a plain conditional GET: with If-None-Match it adds Cache-Control: no-cache, which forces a 200. */
function conditionalGetStatus(url: string, etag: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'if-none-match': etag } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
}

test('GET / and /playground/* serve the page and its assets with their content types, revalidated on every use', async () => {
  const expected = { '/': /^text\/html; charset=utf-8$/, '/playground/playground.js': /^(text|application)\/javascript; charset=utf-8$/, '/playground/playground.css': /^text\/css; charset=utf-8$/ };
  for (const [path, contentType] of Object.entries(expected)) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type') ?? '', contentType, path);
    assert.equal(response.headers.get('cache-control'), 'no-cache', path);
    const etag = response.headers.get('etag');
    assert.ok(etag, `${path} has an ETag`);
    assert.equal(await conditionalGetStatus(`${server.url}${path}`, etag), 304, `${path} revalidates`);
  }
  // Only the files of the assets folder are served: not the plugin's sources beside it, nor a listing.
  for (const path of ['/playground/plugin.ts', '/playground/', '/playground']) {
    assert.equal((await fetch(`${server.url}${path}`)).status, 404, path);
  }
});

test('Generate: the masked canvas turns into text step by step, and ends as POST /v1/generate with the same seed', async (t) => {
  const page = await openPlayground();
  const request = { prompt: 'ba be', steps: 64, sampler: 'ddpm', seed: 7, num_samples: 2 };
  await fill(page, { prompt: request.prompt, steps: String(request.steps), sampler: request.sampler, seed: String(request.seed), num_samples: String(request.num_samples) });
  const canvasStates = await recordCanvasStates(page);
  await page.getByRole('button', { name: 'Generate' }).click();
  await status(page, /^Done/);

  const rest = await restGenerate(request);
  assert.deepEqual(await canvasTexts(page), rest.samples.map((sample) => sample.text), 'the final texts are the REST result');
  assert.equal(await page.locator('.mask').count(), 0, 'nothing is left masked');
  assert.equal(await page.locator('#seed').textContent(), String(request.seed));
  assert.equal(await page.locator('#passes').textContent(), String(rest.stats.forward_passes));
  assert.equal(await page.locator('#step').textContent(), String(rest.stats.steps));
  assert.match((await page.locator('#rate').textContent()) ?? '', /^\d+\.\d$/);
  assert.equal(await page.locator('#error').isHidden(), true);

  const states = await canvasStates();
  for (const [index, sample] of rest.samples.entries()) {
    const ofSample = states.filter((state) => state.sample === index);
    const generated = sample.token_ids.length - rest.stats.prompt_tokens;
    assert.equal(ofSample[0]?.masks, generated, 'the first state is all masks but the prompt');
    assert.ok(ofSample.filter((state) => state.masks > 0 && state.masks < generated).length >= 5, 'intermediate states, partly masked, are shown');
    // Each render highlights exactly the tokens it decoded (one word each in the tiny tokenizer).
    for (let k = 1; k < ofSample.length; k++) {
      const [before, now] = [ofSample[k - 1] as CanvasState, ofSample[k] as CanvasState];
      const freshWords = now.fresh.flatMap((text) => text.trim().split(/\s+/));
      assert.equal(freshWords.length, before.masks - now.masks, `sample ${index}, state ${k}: ${JSON.stringify(now)}`);
    }
  }
  const [first, second] = await page.locator('.sample').evaluateAll((samples) => samples.map((sample) => sample.getBoundingClientRect().toJSON() as DOMRect));
  assert.ok(first && second && first.top === second.top && first.right <= second.left, 'two samples side by side');
  await screenshot(page, 'finished.png', (message) => t.diagnostic(message));
});

test('a remasking sampler: cells turn back into masks, marked as such, and the page ends as POST /v1/generate does', async (t) => {
  const page = await openPlayground();
  const request = { prompt: 'ba be', steps: 200, sampler: 'remdm-loop', eta: 0.1, seed: 3, num_samples: 1, length: 24 };
  await fill(page, { prompt: request.prompt, steps: String(request.steps), sampler: request.sampler, eta: String(request.eta), seed: String(request.seed), num_samples: '1', length: String(request.length) });
  const canvasStates = await recordCanvasStates(page);
  await page.getByRole('button', { name: 'Generate' }).click();
  await status(page, /^Done/);
  const rest = await restGenerate(request);
  assert.deepEqual(await canvasTexts(page), rest.samples.map((sample) => sample.text));
  const states = await canvasStates();
  const remasking = states.filter((state, k) => k > 0 && state.remasked > 0);
  assert.ok(remasking.length > 0, 'some render shows a token sent back to the mask');
  assert.ok(states.some((state, k) => k > 0 && state.masks > (states[k - 1] as CanvasState).masks), 'the mask count goes up as well as down');
  assert.ok(Number(await page.locator('#remasked').textContent()) > 0, 'the remasked count is shown');
  await screenshot(page, 'remasking.png', (message) => t.diagnostic(message));
});

test('Stop cancels a long request: the page says so and the server frees its sequences', async () => {
  const page = await openPlayground();
  await fill(page, { steps: String(LONG_REQUEST.steps), sampler: LONG_REQUEST.sampler, seed: String(LONG_REQUEST.seed) });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('.fresh').first().waitFor({ timeout: 20_000 });
  assert.ok(server.service.status().activeSequences > 0, 'still running when Stop is pressed');
  await page.getByRole('button', { name: 'Stop' }).click();
  await status(page, /^Cancelled\.$/);
  await waitFor(() => server.service.status().activeSequences === 0, 'the cancelled request to leave the scheduler');
  assert.ok((await page.locator('.mask').count()) > 0, 'the canvas keeps its partly decoded state');
  assert.ok(Number(await page.locator('#passes').textContent()) > 0);
  assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Stop' }).isDisabled(), true);
});

test("the server's validation errors are shown, and the field they name is marked", async () => {
  const page = await openPlayground();
  await fill(page, { steps: '20000' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await status(page, /^Failed\.$/);
  assert.match((await page.locator('#error').textContent()) ?? '', /^steps: .*10000.* \(validation_error\)$/);
  assert.equal(await page.locator('[name="steps"]').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'steps', 'the field at fault has the focus');

  // A stride longer than the window: the error names the nested field, and the page marks it.
  await fill(page, { length: '16', steps: '8', 'semi_ar.stride_length': '20', 'semi_ar.num_strides': '1' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('#error', { hasText: 'semi_ar.stride_length: must be at most the window length 16' }).waitFor();
  assert.equal(await page.locator('[name="semi_ar.stride_length"]').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('[name="steps"]').getAttribute('aria-invalid'), null, 'the earlier error was cleared');
  assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), true);
});

test(`at ${PHONE_WIDTH} px wide nothing overflows, and semi-autoregressive samples stack`, async (t) => {
  const page = await openPlayground();
  await page.setViewportSize({ width: PHONE_WIDTH, height: 800 });
  const request = { prompt: 'ba be bi', steps: 16, seed: 3, num_samples: 2, semi_ar: { stride_length: 16, num_strides: 2 } };
  await fill(page, { prompt: request.prompt, steps: String(request.steps), seed: String(request.seed), num_samples: String(request.num_samples), 'semi_ar.stride_length': '16', 'semi_ar.num_strides': '2' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await status(page, /^Done/);
  assert.deepEqual(await canvasTexts(page), (await restGenerate(request)).samples.map((sample) => sample.text));
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.deepEqual(widths, { scroll: PHONE_WIDTH, client: PHONE_WIDTH }, 'no horizontal overflow');
  const lefts = await page.locator('.sample').evaluateAll((samples) => samples.map((sample) => sample.getBoundingClientRect().left));
  assert.equal(new Set(lefts).size, 1, 'samples stack in one column');
  await screenshot(page, 'phone.png', (message) => t.diagnostic(message));
});

test('on a server with an API key the page says it needs one, marks the field, refuses to generate without it, and works once it is entered', async () => {
  const keyed = await startServer({ config: { apiKey: 'playground secret/+=' } });
  const page = await openPlayground(keyed.url, false);
  await page.locator('#model', { hasText: 'This server needs an API key: enter it in the API key field below.' }).waitFor();
  assert.equal(await page.locator('[name="api_key"]').getAttribute('aria-invalid'), 'true', 'the key field is marked');
  await fill(page, { steps: '8', seed: '3' });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.locator('#error', { hasText: 'This server needs an API key' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Generate' }).isEnabled(), true, 'nothing was sent');
  await page.locator('[name="api_key"]').fill('wrong');
  await page.locator('[name="api_key"]').dispatchEvent('change');
  await page.locator('#model', { hasText: 'The server refused this API key' }).waitFor();
  await page.locator('[name="api_key"]').fill('playground secret/+=');
  await page.locator('[name="api_key"]').dispatchEvent('change');
  await page.locator('#model', { hasText: MODEL_ID }).waitFor();
  assert.equal(await page.locator('[name="api_key"]').getAttribute('aria-invalid'), null, 'the mark goes with a good key');
  await page.getByRole('button', { name: 'Generate' }).click();
  await status(page, /^Done/);
  assert.equal(await page.locator('.mask').count(), 0);
  await page.close();
});
