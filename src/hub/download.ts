import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { downloadFile, modelInfo, pathsInfo } from '@huggingface/hub';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { COMMIT_SHA, type RepoCache } from './hf-cache.js';
import type { HubSettings } from './settings.js';

/**
 * A file as the hub lists it at one commit. `etag` names its blob in the cache, as Python
 * names it: the sha256 of an LFS file, the git blob id of any other; both are checked
 * against the bytes that arrive.
 */
export interface RemoteFile {
  path: string;
  size: number;
  etag: string;
  lfs: boolean;
}

export type BytesListener = (done: number, total: number) => void;

const PathInfoSchema = z.object({
  path: z.string(),
  type: z.string(),
  size: z.number().int().nonnegative(),
  oid: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  lfs: z.object({ oid: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
});

/** The commit a branch or tag points to now: looked up first, so a branch that moved is noticed. */
export async function lookupCommit(repo: string, revision: string, settings: HubSettings): Promise<string> {
  const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...metadataRequest(settings) });
  const commit = z.string().regex(COMMIT_SHA).safeParse(info.sha);
  if (!commit.success) throw new MdlmError(ErrorCodes.hubError, `the hub did not return a commit id for ${repo}@${revision}`);
  return commit.data;
}

/** Those of `paths` that exist at `commit`, in one request. */
export async function listFiles(repo: string, commit: string, paths: string[], settings: HubSettings): Promise<RemoteFile[]> {
  const entries = await pathsInfo({ repo, paths, revision: commit, ...metadataRequest(settings) });
  return entries.flatMap((entry) => {
    const info = PathInfoSchema.safeParse(entry);
    if (!info.success) throw new MdlmError(ErrorCodes.hubError, `the hub described ${entry.path} in ${repo}@${commit} in an unexpected form`);
    if (info.data.type !== 'file') return [];
    const etag = info.data.lfs?.oid ?? info.data.oid;
    if (etag === undefined) throw new MdlmError(ErrorCodes.hubError, `the hub gave no content id for ${entry.path} in ${repo}@${commit}`);
    return [{ path: info.data.path, size: info.data.size, etag, lfs: info.data.lfs !== undefined }];
  });
}

/**
 * Streams `file` into a blob of its own and links it into the commit's snapshot only once
 * its size and hash match what the hub listed: a dropped connection, a full disk or a
 * corrupted transfer leave no snapshot entry behind.
 */
export async function downloadIntoCache(cache: RepoCache, commit: string, file: RemoteFile, settings: HubSettings, onBytes: BytesListener): Promise<void> {
  if (!(await cache.hasBlob(file.etag))) {
    const blob = await downloadFile({ repo: cache.repo, path: file.path, revision: commit, hubUrl: settings.hubUrl, accessToken: settings.token, fetch: settings.fetch });
    if (blob === null) throw new MdlmError(ErrorCodes.hubNotFound, `${file.path} is listed in ${cache.repo}@${commit} but the hub cannot serve it`);
    await cache.addBlob(file.etag, async (tempPath) => {
      const check = new ContentCheck(file, onBytes);
      await pipeline(Readable.fromWeb(blob.stream() as NodeReadableStream<Uint8Array>), check.counter(), createWriteStream(tempPath));
      check.verify(cache.repo, commit);
    });
  }
  await cache.linkSnapshotFile(commit, file.path, file.etag);
}

function metadataRequest(settings: HubSettings) {
  const timedFetch: typeof fetch = (input, init) => settings.fetch(input, { ...init, signal: AbortSignal.timeout(settings.metadataTimeoutMs) });
  return { hubUrl: settings.hubUrl, accessToken: settings.token, fetch: timedFetch };
}

/** Counts and hashes bytes on their way to disk. */
class ContentCheck {
  private readonly hash: Hash;
  private bytes = 0;

  constructor(
    private readonly file: RemoteFile,
    private readonly onBytes: BytesListener,
  ) {
    this.hash = createHash(file.lfs ? 'sha256' : 'sha1');
    // A git blob id hashes a "blob <size>\0" header before the contents.
    if (!file.lfs) this.hash.update(`blob ${file.size}\0`);
  }

  counter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.onBytes(this.bytes, this.file.size);
        callback(null, chunk);
      },
    });
  }

  verify(repo: string, commit: string): void {
    const digest = this.hash.digest('hex');
    if (this.bytes === this.file.size && digest === this.file.etag) return;
    throw new MdlmError(
      ErrorCodes.hubError,
      `${this.file.path} from ${repo}@${commit} arrived damaged (${this.bytes} bytes, hash ${digest}; expected ${this.file.size} bytes, hash ${this.file.etag}); nothing was kept, run again to retry`,
    );
  }
}
