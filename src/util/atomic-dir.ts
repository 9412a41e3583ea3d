import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const pendingDirs = new Set<string>();
let exitHookInstalled = false;

/** A process that exits mid-write (an error, Ctrl-C through the CLI's handler) leaves no half directory. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dir of pendingDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Builds a directory under a temporary sibling name and renames it into place only once
 * `fill` has succeeded, so readers see either the old complete directory or the new one.
 */
export async function writeDirAtomically<T>(finalDir: string, fill: (tempDir: string) => Promise<T>): Promise<T> {
  installExitHook();
  const parent = dirname(finalDir);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tempDir = join(parent, `.${basename(finalDir)}.tmp-${tag}`);
  pendingDirs.add(tempDir);
  try {
    await mkdir(tempDir);
    const result = await fill(tempDir);
    await replaceDir(tempDir, finalDir, join(parent, `.${basename(finalDir)}.old-${tag}`));
    return result;
  } finally {
    pendingDirs.delete(tempDir);
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function replaceDir(source: string, target: string, trash: string): Promise<void> {
  if (existsSync(target)) {
    await rename(target, trash);
    try {
      await rename(source, target);
    } catch (error) {
      await rename(trash, target);
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
    return;
  }
  await rename(source, target);
}
