import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError } from '../errors.js';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** How long a metadata request may take before the hub counts as unreachable: Python's HF_HUB_ETAG_TIMEOUT, in seconds. */
const DEFAULT_METADATA_TIMEOUT_S = 10;

/** What the caller may set; anything left out comes from the environment, as Python's huggingface_hub reads it. */
export interface HubOptions {
  /** Use the HF cache alone, without a single request; default: HF_HUB_OFFLINE is 1/true/yes/on. */
  offline?: boolean;
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Default: HF_TOKEN. */
  token?: string;
  /** HF hub cache; default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (Python's rules). */
  cacheDir?: string;
  /** Replaces the global fetch for every hub request. */
  fetch?: typeof fetch;
}

export interface HubSettings {
  hubUrl: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  metadataTimeoutMs: number;
  fetch: typeof fetch;
}

/** An empty variable counts as unset, so `HF_TOKEN= mdlm ...` clears a token. */
const setting = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const seconds = setting.transform((value) => (value === undefined ? undefined : Number(value))).pipe(z.number().positive().optional());

const HubEnvSchema = z.object({
  HF_HOME: setting,
  XDG_CACHE_HOME: setting,
  HF_HUB_CACHE: setting,
  HUGGINGFACE_HUB_CACHE: setting,
  HF_ENDPOINT: setting,
  HF_TOKEN: setting,
  HF_HUB_OFFLINE: setting,
  HF_HUB_ETAG_TIMEOUT: seconds,
});
type HubEnv = z.infer<typeof HubEnvSchema>;

const HubUrlSchema = z.url({ protocol: /^https?$/ });

/** Python's huggingface_hub treats these (any case) as true. */
const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);

export function hubSettings(options: HubOptions, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const vars = parseEnv(env);
  return {
    hubUrl: parseHubUrl(options.hubUrl ?? vars.HF_ENDPOINT ?? DEFAULT_HUB_URL),
    token: checkToken(options.token ?? vars.HF_TOKEN),
    cacheDir: options.cacheDir === undefined ? hubCacheDir(vars) : expandHome(options.cacheDir),
    offline: options.offline ?? TRUE_VALUES.has((vars.HF_HUB_OFFLINE ?? '').toUpperCase()),
    metadataTimeoutMs: (vars.HF_HUB_ETAG_TIMEOUT ?? DEFAULT_METADATA_TIMEOUT_S) * 1000,
    fetch: options.fetch ?? globalThis.fetch,
  };
}

/** MDLM_MODELS_DIR, else `models/` in the package root (two levels above both src/hub and dist/hub). */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = setting.parse(env.MDLM_MODELS_DIR);
  return configured === undefined ? join(import.meta.dirname, '..', '..', 'models') : expandHome(configured);
}

/** HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, with HF_HOME defaulting to $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface. */
function hubCacheDir(vars: HubEnv): string {
  const explicit = vars.HF_HUB_CACHE ?? vars.HUGGINGFACE_HUB_CACHE;
  if (explicit !== undefined) return expandHome(explicit);
  const hfHome = vars.HF_HOME ?? join(vars.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(expandHome(hfHome), 'hub');
}

function parseEnv(env: NodeJS.ProcessEnv): HubEnv {
  const parsed = HubEnvSchema.safeParse(env);
  if (!parsed.success) throw new MdlmError(ErrorCodes.invalidArgument, `environment: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}

function parseHubUrl(url: string): string {
  const parsed = HubUrlSchema.safeParse(url);
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.invalidArgument, `hub URL ${JSON.stringify(url)} (HF_ENDPOINT) is not an http(s) URL: ${describeZodIssues(parsed.error)}`);
  }
  return parsed.data.replace(/\/+$/, '');
}

/** @huggingface/hub rejects any other token with a bare TypeError; say which setting is wrong instead. */
function checkToken(token: string | undefined): string | undefined {
  if (token !== undefined && !token.startsWith('hf_')) {
    throw new MdlmError(ErrorCodes.invalidArgument, 'the access token (HF_TOKEN) does not look like a Hugging Face token: those start with "hf_"');
  }
  return token;
}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}
