import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/**
 * Writes that appear all at once: everything is built under a temporary name and renamed
 * into place, and a process that exits mid-write (an error, or Ctrl-C through the CLI's
 * handler) removes what it left, so no reader ever takes a half-written file for a whole one.
 */
const pendingPaths = new Set<string>();

function track(path: string): void {
  if (pendingPaths.size === 0) process.once('exit', removePending);
  pendingPaths.add(path);
}

function untrack(path: string): void {
  pendingPaths.delete(path);
  if (pendingPaths.size === 0) process.off('exit', removePending);
}

/** Has `path` removed should the process exit before the returned function is called. */
export function removeOnExit(path: string): () => void {
  track(path);
  return () => untrack(path);
}

/** Removal attempts at exit, and the pause between them. */
const EXIT_REMOVAL_ATTEMPTS = 10;
const EXIT_REMOVAL_PAUSE_MS = 10;

/**
 * A write still running on libuv's thread pool (a Ctrl-C is handled at an await, often
 * mid-write) can add a file while a directory is being removed: rmdir then fails with
 * ENOTEMPTY, and rmSync's own retries repeat only the rmdir. So the whole removal is
 * repeated, after a short synchronous pause (the exit handler cannot wait asynchronously).
 */
function removePending(): void {
  for (const path of pendingPaths) removeWhileWritesFinish(path);
}

function removeWhileWritesFinish(path: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(path, { recursive: true, force: true });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt === EXIT_REMOVAL_ATTEMPTS) throw error;
      Atomics.wait(pause, 0, 0, EXIT_REMOVAL_PAUSE_MS);
    }
  }
}

/**
 * This machine, as temporary names carry it: a process id means something only on the host
 * that owns it. Without dots, so that the last dot of a name always precedes its purpose.
 */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

/** `<host>-<pid>-<random>`: which process made a temporary, so that a later one can tell an abandoned one from a live one. */
function uniqueTag(): string {
  return `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The names siblingPath makes, `.<name>.<purpose>-<host>-<pid>-<random>`; names from before the host was recorded have none. */
const SIBLING_NAME = /^\..*\.[a-z]+-(?:(?<host>.+)-)?(?<pid>\d+)-[0-9a-f]{8}$/;

export interface AbandonedTemporary {
  path: string;
  pid: number;
}

/**
 * Removes the temporaries (siblingPath names) in `dir` whose process is gone: those of a write
 * that never finished because its process was killed (SIGKILL, the OOM killer, a power cut),
 * so no exit hook ran. Only this host's are considered, since a process id means nothing on
 * another machine sharing the directory; a live process's (another server converting right
 * now) is never touched. A dead owner's id reused by a new process keeps its temporary until
 * that process ends too: the rule errs on the side of keeping.
 */
export async function removeAbandonedTemporaries(dir: string): Promise<AbandonedTemporary[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const abandoned = names.flatMap((name) => {
    const owner = SIBLING_NAME.exec(name)?.groups;
    if (owner === undefined || (owner.host ?? HOST) !== HOST || isRunning(Number(owner.pid))) return [];
    return [{ path: join(dir, name), pid: Number(owner.pid) }];
  });
  for (const { path } of abandoned) await rm(path, { recursive: true, force: true });
  return abandoned;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A hidden name beside `path` for a temporary of the given purpose. */
export function siblingPath(path: string, purpose: string): string {
  return join(dirname(path), `.${basename(path)}.${purpose}-${uniqueTag()}`);
}

/** Replaces the file at `path` with what `write` puts at the temporary path it is given. */
export async function writeFileAtomically(path: string, write: (tempPath: string) => Promise<void>): Promise<void> {
  // The suffix Hugging Face's caches use for downloads in progress.
  const temp = `${path}.${uniqueTag()}.incomplete`;
  await mkdir(dirname(path), { recursive: true });
  track(temp);
  try {
    await write(temp);
    await rename(temp, path);
  } finally {
    untrack(temp);
    await rm(temp, { force: true });
  }
}

/**
 * Builds a directory under a temporary sibling name and renames it into place only once
 * `fill` has succeeded, so readers see either the old complete directory or the new one.
 */
export async function writeDirAtomically<T>(finalDir: string, fill: (tempDir: string) => Promise<T>): Promise<T> {
  await mkdir(dirname(finalDir), { recursive: true });
  const tempDir = siblingPath(finalDir, 'tmp');
  track(tempDir);
  try {
    await mkdir(tempDir);
    const result = await fill(tempDir);
    await replaceDir(tempDir, finalDir);
    return result;
  } finally {
    untrack(tempDir);
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function replaceDir(source: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    await rename(source, target);
    return;
  }
  const trash = siblingPath(target, 'old');
  await rename(target, trash);
  try {
    await rename(source, target);
  } catch (error) {
    await rename(trash, target);
    throw error;
  }
  await rm(trash, { recursive: true, force: true });
}
