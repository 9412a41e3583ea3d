import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LIGHTNING_WEIGHTS, type LightningWeights } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { EXPORT_HEADS } from './heads.js';
import { WEIGHT_DTYPES } from './layers.js';

/** Bumped whenever the graph the builder emits or the manifest changes: older exports are then stale. */
export const BUILDER_VERSION = '8';
export const OPSETS = { '': 20, 'com.microsoft': 1 } as const;
export const MANIFEST_FILE = 'manifest.json';
export const MODEL_FILE = 'model.onnx';
export const DATA_FILE = 'model.onnx.data';

/**
 * The export's two files, as a load checks them before building a session from their bytes.
 * The sizes of model.onnx and both hashes came with builder 3's later exports; an export
 * without them is checked by the size of its data file alone.
 */
export const ExportFilesSchema = z.object({
  model: z.string(),
  data: z.string(),
  dataBytes: z.number().int().nonnegative(),
  modelBytes: z.number().int().nonnegative().optional(),
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  dataSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type ExportFiles = z.infer<typeof ExportFilesSchema>;

/** What every export records, whatever the network; each model family extends it with its own fields (src/families). */
export const ManifestBaseSchema = z.object({
  format: z.literal('mdlm-serve-onnx'),
  builderVersion: z.string(),
  head: z.enum(EXPORT_HEADS),
  dtype: z.enum(WEIGHT_DTYPES),
  fused: z.boolean(),
  opsets: z.record(z.string(), z.number()),
  /** Whether tokenizer.json and tokenizer_config.json were shipped beside the model. */
  tokenizer: z.boolean(),
  /**
   * `weights`: which weights of a Lightning .ckpt were exported (absent for a checkpoint
   * directory); `tokenizerSha256`: the tokenizer files given explicitly (absent when the
   * checkpoint's own or its named one was used).
   */
  checkpoint: z.object({ sha256: z.string(), source: z.string(), weights: z.enum(LIGHTNING_WEIGHTS).optional(), tokenizerSha256: z.string().optional() }),
  files: ExportFilesSchema,
  createdAt: z.string(),
});

export type ExportManifestBase = z.infer<typeof ManifestBaseSchema>;

/** An export's manifest.json as JSON, not yet validated: each model family's schema reads its own (src/families). */
export async function readManifestJson(exportDir: string): Promise<unknown> {
  const path = join(exportDir, MANIFEST_FILE);
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new MdlmError(ErrorCodes.modelNotFound, `${path}: not an exported model directory (${(cause as Error).message})`, { cause });
  }
}

export interface ExportKey {
  checkpointSha256: string;
  /** A Lightning .ckpt's weights; undefined for a checkpoint directory. */
  weights?: LightningWeights;
  /** The tokenizer files given explicitly (tokenizerFilesHash), when they were. */
  tokenizerSha256?: string;
  head: ExportManifestBase['head'];
  dtype: ExportManifestBase['dtype'];
  fused: boolean;
}

/** Why an export cannot be reused for `key`, or undefined when it can. */
export function staleReason(manifest: ExportManifestBase, key: ExportKey): string | undefined {
  if (manifest.builderVersion !== BUILDER_VERSION) return `built by builder version ${manifest.builderVersion}, current is ${BUILDER_VERSION}`;
  if (manifest.checkpoint.sha256 !== key.checkpointSha256) return 'the checkpoint has changed since it was exported';
  if (manifest.checkpoint.weights !== key.weights) return `weights are ${manifest.checkpoint.weights ?? 'the directory\'s'}, wanted ${key.weights ?? 'the directory\'s'}`;
  if (manifest.checkpoint.tokenizerSha256 !== key.tokenizerSha256) return 'exported with another tokenizer';
  if (manifest.head !== key.head) return `head is ${manifest.head}, wanted ${key.head}`;
  if (manifest.dtype !== key.dtype) return `dtype is ${manifest.dtype}, wanted ${key.dtype}`;
  if (manifest.fused !== key.fused) return `fused operators ${manifest.fused ? 'on' : 'off'}, wanted ${key.fused ? 'on' : 'off'}`;
  return undefined;
}
