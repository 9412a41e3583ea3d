import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LIGHTNING_EXTENSION, isLightningFile } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { expandHome } from './settings.js';

export type ModelReference = { kind: 'local'; dir: string } | { kind: 'lightning'; file: string } | { kind: 'hub'; repo: string; revision: string };

export const DEFAULT_REVISION = 'main';

/** One repo-name part as Python's huggingface_hub accepts it: word characters, '.', '-', starting and ending with a word character. */
const NAME_PART = String.raw`\w(?:[\w.-]*\w)?`;
const REPO_ID = new RegExp(`^(?:${NAME_PART}/)?${NAME_PART}$`);
const MAX_REPO_ID_LENGTH = 96;
/** Branch, tag or commit: git ref characters, never a '..' that could walk out of the cache's refs/ folder. */
const REVISION = /^\w[\w./-]*$/;

const PATH_PREFIX = /^(?:\/|\.{1,2}(?:\/|$)|~)/;

/**
 * An existing directory wins over a hub id of the same spelling, as in `transformers`;
 * something written as a path never falls through to the hub.
 */
export function parseReference(reference: string): ModelReference {
  const path = expandHome(reference);
  if (reference !== '' && existsSync(path)) return localReference(reference, path);
  if (PATH_PREFIX.test(reference)) {
    throw new MdlmError(ErrorCodes.modelNotFound, `model directory ${reference} does not exist`);
  }
  return hubReference(reference);
}

/** Whether `name` can be sent to the hub as a repository id (`owner/name`, or a legacy bare name such as `gpt2`). */
export function isRepoId(name: string): boolean {
  return REPO_ID.test(name) && name.length <= MAX_REPO_ID_LENGTH && !name.includes('--') && !name.includes('..');
}

function localReference(reference: string, path: string): ModelReference {
  if (isLightningFile(path)) return { kind: 'lightning', file: resolve(path) };
  if (!statSync(path).isDirectory()) {
    throw new MdlmError(ErrorCodes.invalidArgument, `${reference} is a file; pass the directory that holds the model, or a Lightning checkpoint (a ${LIGHTNING_EXTENSION} file)`);
  }
  return { kind: 'local', dir: resolve(path) };
}

function hubReference(reference: string): ModelReference {
  const at = reference.indexOf('@');
  const repo = at === -1 ? reference : reference.slice(0, at);
  const revision = at === -1 ? DEFAULT_REVISION : reference.slice(at + 1);
  if (!repo.includes('/') || !isRepoId(repo)) {
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `${JSON.stringify(reference)} is neither an existing directory nor a Hugging Face repository id (owner/name, optionally @revision)`,
    );
  }
  if (!REVISION.test(revision) || revision.includes('..')) {
    throw new MdlmError(ErrorCodes.invalidArgument, `${JSON.stringify(revision)} is not a valid revision (a branch, tag or commit) in ${JSON.stringify(reference)}`);
  }
  return { kind: 'hub', repo, revision };
}
