import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type AnyExportManifest, exportModel, readAnyManifest } from '../families/index.js';
import { BUILDER_VERSION, type ExportKey, MANIFEST_FILE, staleReason } from '../model/index.js';
import { removeAbandonedTemporaries, removeOnExit, siblingPath } from '../util/atomic.js';

export interface ConversionRequest {
  exportDir: string;
  /** A checkpoint directory or a Lightning .ckpt file. */
  checkpointDir: string;
  key: ExportKey;
  /** Asked only when a conversion is needed, since finding a tokenizer may mean a download. */
  tokenizerDir: () => Promise<string | undefined>;
  onProgress: (done: number, total: number) => void;
  notices: string[];
}

/** Long enough to tell apart any two commits or checkpoints a user will meet. */
const ID_LENGTH = 12;

/** `<modelsDir>/<owner--name or "local">/<commit or checkpoint hash>-<head>-<dtype>-<fused|unfused>[-<.ckpt weights>][-t<tokenizer hash>]-b<builder>`: one directory per export a build can differ in. */
export function conversionDir(modelsDir: string, namespace: string, id: string, key: ExportKey): string {
  const choices = `${key.weights === undefined ? '' : `-${key.weights}`}${key.tokenizerSha256 === undefined ? '' : `-t${key.tokenizerSha256.slice(0, ID_LENGTH)}`}`;
  const variant = `${key.head}-${key.dtype}-${key.fused ? 'fused' : 'unfused'}${choices}-b${BUILDER_VERSION}`;
  return join(modelsDir, namespace, `${id.slice(0, ID_LENGTH)}-${variant}`);
}

/** The export in `exportDir` when it is current for the checkpoint, else a fresh conversion put in its place. */
export async function ensureConverted(request: ConversionRequest): Promise<AnyExportManifest> {
  for (const { path, pid } of await removeAbandonedTemporaries(dirname(request.exportDir))) {
    request.notices.push(`removed ${path}, left by an interrupted conversion (process ${pid}, no longer running)`);
  }
  const existing = await inspectExport(request.exportDir, request.key);
  if (existing.manifest !== undefined) return existing.manifest;
  if (existing.staleBecause !== undefined) request.notices.push(`rebuilding ${request.exportDir}: ${existing.staleBecause}`);
  const staging = siblingPath(request.exportDir, 'staging');
  const stopTracking = removeOnExit(staging);
  try {
    await exportModel({
      checkpointDir: request.checkpointDir,
      outDir: staging,
      head: request.key.head,
      dtype: request.key.dtype,
      fused: request.key.fused,
      checkpointSha256: request.key.checkpointSha256,
      weights: request.key.weights,
      tokenizerSha256: request.key.tokenizerSha256,
      tokenizerDir: await request.tokenizerDir(),
      onProgress: request.onProgress,
    });
    await publish(staging, request.exportDir, request.key);
  } finally {
    stopTracking();
    await rm(staging, { recursive: true, force: true });
  }
  return readAnyManifest(request.exportDir);
}

interface ExportState {
  manifest?: AnyExportManifest;
  staleBecause?: string;
}

async function inspectExport(exportDir: string, key: ExportKey): Promise<ExportState> {
  if (!existsSync(join(exportDir, MANIFEST_FILE))) return {};
  try {
    const manifest = await readAnyManifest(exportDir);
    const reason = staleReason(manifest, key);
    return reason === undefined ? { manifest } : { staleBecause: reason };
  } catch (error) {
    return { staleBecause: (error as Error).message };
  }
}

/**
 * Renames the finished export into place. A rename onto a directory that exists fails, so
 * when two processes convert at once the first one's directory stays and later ones discard
 * theirs: a process already loading the model never sees it swapped. Only a stale directory
 * is moved aside.
 */
async function publish(staging: string, exportDir: string, key: ExportKey): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(staging, exportDir);
      return;
    } catch (error) {
      if (!isDirectoryInTheWay(error) || attempt === 2) throw error;
    }
    if ((await inspectExport(exportDir, key)).manifest !== undefined) return;
    await moveAside(exportDir);
  }
}

async function moveAside(dir: string): Promise<void> {
  const trash = siblingPath(dir, 'stale');
  try {
    await rename(dir, trash);
  } catch (error) {
    // Another process moved it first.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return;
  }
  await rm(trash, { recursive: true, force: true });
}

function isDirectoryInTheWay(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM';
}
