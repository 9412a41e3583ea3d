import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { after } from 'node:test';
import { GPT2_MDLM_VOCAB_SIZE, type SynthShape, synthesizeCheckpoint } from '../../src/checkpoint/synth.js';
import type { ResolveOptions } from '../../src/hub/index.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeHub } from './fake-hub.js';

export const MDLM_REPO = 'kuleshov-group/mdlm-owt';

/** GPT-2's vocabulary, so the repo needs the gpt2 tokenizer, and the smallest network around it. */
export const HUB_SHAPE: SynthShape = { vocab_size: GPT2_MDLM_VOCAB_SIZE, model_length: 16, hidden_dim: 16, cond_dim: 16, n_blocks: 1, n_heads: 2, time_conditioning: false };

const GPT2_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'gpt2');
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const CHILD_SCRIPT = join(import.meta.dirname, 'resolve-child.ts');

/** Tests pass every hub setting explicitly; nothing from the developer's shell may leak in. */
const HF_VARIABLES = ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'XDG_CACHE_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_OFFLINE', 'HF_HUB_ETAG_TIMEOUT', 'MDLM_MODELS_DIR'];
for (const name of HF_VARIABLES) delete process.env[name];

export function gpt2TokenizerFiles(): Record<string, Buffer> {
  return {
    'tokenizer.json': readFileSync(join(GPT2_FIXTURES, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(join(GPT2_FIXTURES, 'tokenizer_config.json')),
  };
}

/** config.json and model.safetensors of a synthetic mdlm-owt-like checkpoint. */
export async function checkpointFiles(seed = 1, shape: SynthShape = HUB_SHAPE): Promise<Record<string, Buffer>> {
  const dir = join(tempDir(), 'checkpoint');
  await synthesizeCheckpoint({ outDir: dir, shape, seed });
  return {
    'config.json': readFileSync(join(dir, 'config.json')),
    'model.safetensors': readFileSync(join(dir, 'model.safetensors')),
  };
}

export interface HubWorld {
  hub: FakeHub;
  mdlmCommit: string;
  gpt2Commit: string;
  /** A fresh HF cache and conversion cache pointed at the fake hub. */
  freshOptions: () => ResolveOptions;
}

/** A fake hub serving the synthetic checkpoint as kuleshov-group/mdlm-owt and GPT-2's tokenizer as gpt2. */
export async function startHubWorld(): Promise<HubWorld> {
  const hub = await FakeHub.start();
  after(() => hub.close());
  const mdlmCommit = hub.commit(MDLM_REPO, await checkpointFiles());
  const gpt2Commit = hub.commit('gpt2', gpt2TokenizerFiles());
  const freshOptions = (): ResolveOptions => {
    const root = tempDir('mdlm-hub-');
    return { hubUrl: hub.url, cacheDir: join(root, 'hf-cache'), modelsDir: join(root, 'models'), offline: false };
  };
  return { hub, mdlmCommit, gpt2Commit, freshOptions };
}

/** A loopback port that nothing listens on: connections to it are refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A server that accepts connections and never answers, like a hub behind a black-holing network. */
export async function silentHubUrl(): Promise<string> {
  const server = createHttpServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

export interface ChildResult {
  ok: boolean;
  exportDir?: string;
  source?: { kind: string; commit?: string; cacheOnly?: string };
  notices?: string[];
  code?: string;
  message?: string;
  /** Whether the child could open the export with onnxruntime-node. */
  loads?: boolean;
  /** Whether the child converted the checkpoint itself (rather than finding the export done). */
  converted?: boolean;
}

/** resolveModel in a separate Node process: nothing kept in memory from earlier calls can help it. */
export async function resolveInChild(reference: string, options: ResolveOptions, env: Record<string, string> = {}): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify({ reference, options })], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout) as ChildResult;
}

/** Every path under `dir`, relative to it (symlinks included, not followed). */
export function pathsUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() : [];
}

/** Leftovers of an interrupted write: temporary files, staging or trash directories. */
export function leftovers(dir: string): string[] {
  return pathsUnder(dir).filter((path) => /\.incomplete$|\.(staging|stale|tmp|old)-/.test(path));
}

export function requestLines(hub: FakeHub): string[] {
  return hub.requests.map((request) => `${request.method} ${request.path}`);
}

/** Starts resolveModel in a child, presses Ctrl-C (SIGINT) once `file` has begun downloading, and returns the exit code. */
export async function interruptChildDuringDownload(reference: string, options: ResolveOptions, file: string): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify({ reference, options })], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'exit');
  let interrupted = false;
  for await (const line of createInterface({ input: child.stderr })) {
    // Once, as a user would: a second Ctrl-C while the first one's exit hooks run kills the process outright.
    if (!interrupted && line.startsWith(`download ${file} `)) interrupted = child.kill('SIGINT');
  }
  const [code] = (await exited) as [number | null];
  return code;
}
