import { constants, existsSync } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, MdlmError } from '../errors.js';
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

/**
 * The export in `exportDir` when it is current for the checkpoint, else a fresh conversion put
 * in its place. A cache that cannot be written is only read: replicas can share one mounted
 * read-only, which one writer (a Kubernetes init container or Job running `mdlm prepare`)
 * filled; the temporaries of dead conversions are then left for that writer to remove.
 */
export async function ensureConverted(request: ConversionRequest): Promise<AnyExportManifest> {
  const parent = dirname(request.exportDir);
  const writable = await isWritable(parent);
  if (writable) {
    for (const { path, pid } of await removeAbandonedTemporaries(parent)) {
      request.notices.push(`removed ${path}, left by an interrupted conversion (process ${pid}, no longer running)`);
    }
  }
  const existing = await inspectExport(request.exportDir, request.key);
  if (existing.manifest !== undefined) return existing.manifest;
  if (!writable) throw unwritableCache(request.exportDir, existing.staleBecause);
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

/** Whether the cache directory takes writes; one that does not exist yet, whether its nearest existing ancestor does. */
async function isWritable(dir: string): Promise<boolean> {
  try {
    // Even root is refused writes on a read-only mount.
    await access(dir, constants.W_OK);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && dirname(dir) !== dir) return isWritable(dirname(dir));
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return false;
    throw error;
  }
}

/** A read-only cache without a current export: say which, and how to fill it. */
function unwritableCache(exportDir: string, staleBecause: string | undefined): MdlmError {
  const missing = staleBecause === undefined ? 'holds no export' : `holds a stale export (${staleBecause})`;
  return new MdlmError(
    ErrorCodes.modelNotFound,
    `the conversion cache is read-only and ${missing} at ${exportDir}: convert the model first where the cache is writable, with \`mdlm prepare\` and the same model flags (in Kubernetes: the chart's init container), or point --models-dir at a writable directory`,
  );
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
