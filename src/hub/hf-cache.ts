import { copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { writeFileAtomically } from '../util/atomic.js';

export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** What the cache knows about one file of a repository at one commit. */
export type CachedFileState = 'present' | 'absent' | 'unknown';

/**
 * One model repository's folder in the Hugging Face hub cache, in the layout Python's
 * huggingface_hub reads and writes, so either side reuses what the other downloaded:
 *   blobs/<etag>                    file contents, named by sha256 (LFS) or git blob id
 *   snapshots/<commit>/<path>       relative symlinks to the blobs
 *   refs/<revision>                 the commit a branch or tag pointed to when last fetched
 *   .no_exist/<commit>/<path>       empty markers for files the repository does not have
 * Every entry appears by rename only, so a process that dies mid-write leaves nothing a
 * later one would take as complete.
 */
export class RepoCache {
  readonly root: string;

  constructor(
    cacheDir: string,
    readonly repo: string,
  ) {
    this.root = join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  async commitFor(revision: string): Promise<string | undefined> {
    if (COMMIT_SHA.test(revision)) return revision;
    try {
      const commit = (await readFile(join(this.root, 'refs', revision), 'utf8')).trim();
      return COMMIT_SHA.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async recordRef(revision: string, commit: string): Promise<void> {
    if (revision !== commit) await writeFileAtomically(join(this.root, 'refs', revision), (temp) => writeFile(temp, commit));
  }

  async fileState(commit: string, path: string): Promise<CachedFileState> {
    if (await isFile(join(this.snapshotDir(commit), path))) return 'present';
    if (await isFile(join(this.root, '.no_exist', commit, path))) return 'absent';
    return 'unknown';
  }

  async recordAbsent(commit: string, path: string): Promise<void> {
    const marker = join(this.root, '.no_exist', commit, path);
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, '');
  }

  async hasBlob(etag: string): Promise<boolean> {
    return isFile(this.blobPath(etag));
  }

  /**
   * `fill` writes the blob under a name of its own, so two processes downloading the same
   * file never share a half-written file; the rename of identical contents is harmless.
   */
  async addBlob(etag: string, fill: (tempPath: string) => Promise<void>): Promise<void> {
    await writeFileAtomically(this.blobPath(etag), fill);
  }

  async linkSnapshotFile(commit: string, path: string, etag: string): Promise<void> {
    const pointer = join(this.snapshotDir(commit), path);
    await writeFileAtomically(pointer, (temp) =>
      symlink(relative(dirname(pointer), this.blobPath(etag)), temp).catch(() =>
        // Where symlinks are not allowed (Windows without developer mode), Python copies the blob too.
        copyFile(this.blobPath(etag), temp),
      ),
    );
  }

  private blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
