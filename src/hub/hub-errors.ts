import { HubApiError } from '@huggingface/hub';
import { z } from 'zod';
import { ErrorCodes, MdlmError, isMdlmError } from '../errors.js';
import type { HubSettings } from './settings.js';

/** What a request was about, for messages: a repository at a revision, and maybe one file in it. */
export interface HubTarget {
  repo: string;
  revision: string;
  file?: string;
}

const HubErrorBodySchema = z.object({ error: z.string() });

export const OFFLINE_ADVICE =
  'To work offline: download the model once while online, then set HF_HUB_OFFLINE=1 to use the cache alone; ' +
  'or pass --model /path/to/local/dir (an exported model, or a checkpoint directory with config.json and model.safetensors).';

/**
 * Node's fetch reports a refused, reset or timed-out connection as a TypeError ("fetch failed"
 * before the answer, "terminated" while reading it) or as the abort signal's TimeoutError;
 * @huggingface/hub lets both through untouched, unlike HTTP errors, which it wraps in HubApiError.
 */
export function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof HubApiError) return false;
  if (error.name === 'TimeoutError') return true;
  return error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated');
}

/** The innermost cause is the one that names the socket problem (e.g. "connect ECONNREFUSED 127.0.0.1:9"). */
export function describeNetworkFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer within HF_HUB_ETAG_TIMEOUT';
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  if (current instanceof AggregateError && current.errors[0] instanceof Error) current = current.errors[0];
  return current instanceof Error ? current.message : String(current);
}

export function describeTarget(target: HubTarget): string {
  const repo = `${target.repo}@${target.revision}`;
  return target.file === undefined ? repo : `${target.file} in ${repo}`;
}

/** Turns whatever a hub request threw into the MdlmError a user can act on. */
export function hubFailure(error: unknown, target: HubTarget, settings: HubSettings): MdlmError {
  if (isMdlmError(error)) return error;
  const what = describeTarget(target);
  if (error instanceof HubApiError) return httpFailure(error, what, settings);
  if (isNetworkFailure(error)) {
    return new MdlmError(
      ErrorCodes.hubUnreachable,
      `lost the connection to the Hugging Face hub at ${settings.hubUrl} while fetching ${what} (${describeNetworkFailure(error)}); nothing partial was kept, run again to retry. ${OFFLINE_ADVICE}`,
      { cause: error },
    );
  }
  if (isFileSystemError(error)) {
    return new MdlmError(ErrorCodes.hubError, `could not store ${what} in the Hugging Face cache at ${settings.cacheDir} (${error.message}); nothing partial was kept`, { cause: error });
  }
  return new MdlmError(ErrorCodes.hubError, `fetching ${what} from ${settings.hubUrl} failed: ${(error as Error).message}`, { cause: error });
}

/** A full disk or a read-only cache: network failures arrive wrapped in a TypeError, so only the filesystem's own errors carry a syscall. */
function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

function httpFailure(error: HubApiError, what: string, settings: HubSettings): MdlmError {
  const status = error.statusCode;
  const serverSays = HubErrorBodySchema.safeParse(error.data).data?.error ?? 'no details';
  if (status === 401 || status === 403) {
    const advice =
      settings.token === undefined
        ? 'set HF_TOKEN to an access token that can read it (https://huggingface.co/settings/tokens)'
        : 'the token in HF_TOKEN cannot read it: accept the model’s terms on its page or use another token';
    return new MdlmError(
      ErrorCodes.hubUnauthorized,
      `the hub at ${settings.hubUrl} refused access to ${what} (HTTP ${status}: ${serverSays}): the repository is gated or private, or does not exist; ${advice}`,
      { cause: error, details: { status } },
    );
  }
  if (status === 404) {
    return new MdlmError(
      ErrorCodes.hubNotFound,
      `${what} was not found on the hub at ${settings.hubUrl} (HTTP 404: ${serverSays}); check the repository name, the revision and the file`,
      { cause: error, details: { status } },
    );
  }
  return new MdlmError(
    ErrorCodes.hubError,
    `the hub at ${settings.hubUrl} answered HTTP ${status} for ${what} (${serverSays}); try again later, or set HF_HUB_OFFLINE=1 to use the cache`,
    { cause: error, details: { status } },
  );
}
