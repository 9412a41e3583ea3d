import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LightningCheckpoint, isLightningFile } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError, isMdlmError } from '../errors.js';
import { familyOfCheckpointDir } from '../families/index.js';
import { GPT2_TOKENIZER_REPO, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../tokenizer/index.js';
import { isRepoId } from './reference.js';
import { type HubSession, fetchSnapshot, requireFiles } from './snapshot.js';

export const TOKENIZER_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] as const;

/**
 * The directory whose tokenizer.json and tokenizer_config.json the export ships: the
 * checkpoint's own, else those of the repository its family takes (the one its config names,
 * GPT-2's for a GPT-2-sized vocabulary), else none (the export then carries token ids only).
 * A GPT-2 checkpoint needs only tokenizer.json: the export supplies GPT2TokenizerFast's
 * defaults when the repository has no tokenizer_config.json.
 */
export async function tokenizerDirFor(checkpointDir: string, session: HubSession, checkpointSha256?: string): Promise<string | undefined> {
  if (isLightningFile(checkpointDir)) return fetchTokenizer(checkpointDir, await lightningTokenizerRepo(checkpointDir, checkpointSha256), TOKENIZER_FILES, session);
  const { directory } = await familyOfCheckpointDir(checkpointDir);
  const required = directory.tokenizerFiles;
  if (required.every((file) => existsSync(join(checkpointDir, file)))) return checkpointDir;
  const repo = await directory.tokenizerRepo(checkpointDir);
  if (repo === undefined) return undefined;
  if (!isRepoId(repo)) {
    const source = join(checkpointDir, 'config.json');
    throw new MdlmError(ErrorCodes.invalidConfig, `${source}: tokenizer ${JSON.stringify(repo)} is not a Hugging Face repository id`);
  }
  return fetchTokenizer(checkpointDir, repo, required, session);
}

async function fetchTokenizer(checkpointDir: string, repo: string, required: readonly string[], session: HubSession): Promise<string> {
  try {
    const snapshot = await fetchSnapshot({ repo, revision: 'main', files: TOKENIZER_FILES }, session);
    requireFiles(snapshot, required, session.settings);
    return snapshot.dir;
  } catch (error) {
    throw isMdlmError(error) && error.code === ErrorCodes.hubUnreachable ? missingTokenizer(checkpointDir, repo, error) : error;
  }
}

/** The checkpoint is local and fine: what is missing is its tokenizer, and the message says so first, with the ways round it. */
function missingTokenizer(checkpointDir: string, repo: string, cause: MdlmError): MdlmError {
  const local = repo === GPT2_TOKENIZER_REPO ? ' (this repository carries one: test/fixtures/gpt2)' : '';
  return new MdlmError(
    ErrorCodes.hubUnreachable,
    `${checkpointDir} has no tokenizer of its own (${TOKENIZER_FILES.join(', ')}), and the one it needs comes from the hub repository ${repo}, which is not in the Hugging Face cache, and ${/, and (.*?)\. To work offline/.exec(cause.message)?.[1] ?? 'the hub cannot be reached'}. ` +
      `Fixes: give a local tokenizer with --tokenizer TOKENIZER_DIR${local}; or put tokenizer.json and tokenizer_config.json beside the checkpoint; or fetch ${repo} once while online.`,
    { cause },
  );
}

/**
 * A seed's .ckpt names its tokenizer in data.tokenizer_name_or_path (`gpt2`,
 * `bert-base-uncased`): a hub repository, fetched like any other. A local path or one of the
 * seed's own tokenizers (text8) cannot be found from here, and --tokenizer gives it instead.
 */
async function lightningTokenizerRepo(file: string, sha256?: string): Promise<string> {
  const checkpoint = await LightningCheckpoint.open(file, { sha256 });
  checkpoint.close();
  const named = checkpoint.tokenizerName;
  if (!isRepoId(named)) {
    throw new MdlmError(
      ErrorCodes.tokenizerError,
      `${file}: hyper_parameters.config.data.tokenizer_name_or_path is ${JSON.stringify(named)}, not a Hugging Face repository id; pass --tokenizer DIR with its tokenizer.json and tokenizer_config.json`,
    );
  }
  return named;
}

/** sha256 over a tokenizer directory's files: what an explicitly chosen tokenizer is keyed by. */
export async function tokenizerFilesHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of TOKENIZER_FILES) {
    const path = join(dir, file);
    hash.update(`${file}\0`);
    if (existsSync(path)) hash.update(await readFile(path));
  }
  return hash.digest('hex');
}
