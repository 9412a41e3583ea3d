import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Gpt2ConfigSchema, LIGHTNING_WEIGHTS, type LightningWeights, MdlmConfigSchema } from '../checkpoint/index.js';
import { EXPORT_HEADS } from './heads.js';
import { WEIGHT_DTYPES } from './layers.js';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError } from '../errors.js';

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

/** What every export records, whatever the network. */
const ManifestBaseSchema = z.object({
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

/** The parameterizations of the seed's DIT network this server serves (spec §3, §11): SUBS (MDLM) and SEDD's log scores. */
export const DIT_PARAMETERIZATIONS = ['subs', 'sedd'] as const;
export type DitParameterization = (typeof DIT_PARAMETERIZATIONS)[number];

/**
 * An MDLM export (the seed's DIT, spec §2): what the diffusion samplers run. `parameterization`
 * says how its outputs are read: SUBS (MDLM), or SEDD's log scores (same network, its own
 * sampler and loss). It keeps the name it had before other architectures existed.
 */
export const ExportManifestSchema = ManifestBaseSchema.extend({
  architecture: z.literal('mdlm'),
  parameterization: z.enum(DIT_PARAMETERIZATIONS),
  maskIndex: z.number().int().nonnegative(),
  config: MdlmConfigSchema,
});

/**
 * The seed's autoregressive baseline (models/autoregressive.py): the DIT blocks, causal and
 * unconditioned. Its config keeps the MDLM field names (cond_dim and time_conditioning are
 * unused); the mask token exists in its vocabulary but is never predicted.
 */
export const ArExportManifestSchema = ManifestBaseSchema.extend({
  architecture: z.literal('ar'),
  parameterization: z.literal('ar'),
  maskIndex: z.number().int().nonnegative(),
  config: MdlmConfigSchema,
});

/** A GPT-2 export (spec §10): a causal LM that scores samples; it has no mask token. */
export const Gpt2ExportManifestSchema = ManifestBaseSchema.extend({
  architecture: z.literal('gpt2'),
  config: Gpt2ConfigSchema,
});

export const AnyExportManifestSchema = z.discriminatedUnion('architecture', [ExportManifestSchema, ArExportManifestSchema, Gpt2ExportManifestSchema]);

export type ExportManifest = z.infer<typeof ExportManifestSchema>;
export type ArExportManifest = z.infer<typeof ArExportManifestSchema>;
/** An export the service generates and scores with: MDLM (SUBS or SEDD) or the AR baseline. */
export type GenerativeManifest = ExportManifest | ArExportManifest;
/** How a generative model's outputs are read, which decides its sampler and its likelihood (spec §3, §11). */
export type Parameterization = GenerativeManifest['parameterization'];
export type Gpt2ExportManifest = z.infer<typeof Gpt2ExportManifestSchema>;
export type AnyExportManifest = z.infer<typeof AnyExportManifestSchema>;

/** The manifest of an export of any architecture. */
export async function readAnyManifest(exportDir: string): Promise<AnyExportManifest> {
  const path = join(exportDir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new MdlmError(ErrorCodes.modelNotFound, `${path}: not an exported model directory (${(cause as Error).message})`, { cause });
  }
  const parsed = AnyExportManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MdlmError(ErrorCodes.staleExport, `${path}: unrecognised manifest (${describeZodIssues(parsed.error)}); export the model again`);
  }
  return parsed.data;
}

/** The manifest of an export that generates (MDLM, SEDD or the AR baseline). A GPT-2 export is refused, saying what it is for. */
export async function readManifest(exportDir: string): Promise<GenerativeManifest> {
  const manifest = await readAnyManifest(exportDir);
  if (manifest.architecture === 'gpt2') {
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `${exportDir} is a ${manifest.architecture} export: generation needs an MDLM model or one of the seed's baselines (a causal LM such as GPT-2 scores samples: mdlm eval gen-ppl --eval-model)`,
    );
  }
  return manifest;
}

export interface ExportKey {
  checkpointSha256: string;
  /** A Lightning .ckpt's weights; undefined for a checkpoint directory. */
  weights?: LightningWeights;
  /** The tokenizer files given explicitly (tokenizerFilesHash), when they were. */
  tokenizerSha256?: string;
  head: AnyExportManifest['head'];
  dtype: AnyExportManifest['dtype'];
  fused: boolean;
}

/** Why an export cannot be reused for `key`, or undefined when it can. */
export function staleReason(manifest: AnyExportManifest, key: ExportKey): string | undefined {
  if (manifest.builderVersion !== BUILDER_VERSION) return `built by builder version ${manifest.builderVersion}, current is ${BUILDER_VERSION}`;
  if (manifest.checkpoint.sha256 !== key.checkpointSha256) return 'the checkpoint has changed since it was exported';
  if (manifest.checkpoint.weights !== key.weights) return `weights are ${manifest.checkpoint.weights ?? 'the directory\'s'}, wanted ${key.weights ?? 'the directory\'s'}`;
  if (manifest.checkpoint.tokenizerSha256 !== key.tokenizerSha256) return 'exported with another tokenizer';
  if (manifest.head !== key.head) return `head is ${manifest.head}, wanted ${key.head}`;
  if (manifest.dtype !== key.dtype) return `dtype is ${manifest.dtype}, wanted ${key.dtype}`;
  if (manifest.fused !== key.fused) return `fused operators ${manifest.fused ? 'on' : 'off'}, wanted ${key.fused ? 'on' : 'off'}`;
  return undefined;
}
