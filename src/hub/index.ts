/**
 * Turns a model reference (a hub id, a checkpoint directory or an export directory) into a
 * loadable ONNX export directory, downloading into the Hugging Face cache and converting
 * into the conversion cache as needed.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { CONFIG_FILE, LIGHTNING_WEIGHTS, type LightningWeights, WEIGHTS_FILE, checkpointHash, isLightningFile } from '../checkpoint/index.js';
import { fileSha256 } from '../util/hash.js';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError, fieldError } from '../errors.js';
import { type AnyExportManifest, readAnyManifest } from '../families/index.js';
import { BUILDER_VERSION, EXPORT_HEADS, type ExportHead, type ExportKey, MANIFEST_FILE, WEIGHT_DTYPES, type WeightDtype } from '../model/index.js';
import { conversionDir, ensureConverted } from './conversion-cache.js';
import { parseReference } from './reference.js';
import { type HubOptions, defaultModelsDir, hubSettings } from './settings.js';
import { type CacheOnlyReason, type HubSession, fetchSnapshot, requireFiles } from './snapshot.js';
import { TOKENIZER_FILES, tokenizerDirFor, tokenizerFilesHash } from './tokenizer-source.js';

export type { CacheOnlyReason } from './snapshot.js';

export const DEFAULT_MODEL = 'kuleshov-group/mdlm-owt';

/** The seed's generative-perplexity model (spec §10). */
export const DEFAULT_EVAL_MODEL = 'openai-community/gpt2-large';

/** The id clients know a model by: its repository id for a hub model, else its directory's name. */
export function modelIdOf(resolved: ResolvedModel): string {
  return resolved.source.kind === 'hub' ? resolved.source.reference : basename(resolve(resolved.source.reference));
}

export interface ResolveProgress {
  phase: 'download' | 'convert';
  /** The file being downloaded; absent while converting. */
  file?: string;
  /** Bytes so far and in all. */
  done: number;
  total: number;
}

export interface ResolveOptions extends HubOptions {
  /** Conversion cache root; default: env MDLM_MODELS_DIR, else <package root>/models */
  modelsDir?: string;
  /** Default 'positions'. */
  head?: ExportHead;
  /** Default 'fp32'. */
  dtype?: WeightDtype;
  /** Default true. */
  fused?: boolean;
  /** A Lightning .ckpt's weights: `ema` (default) or `raw`; refused for other references. */
  weights?: LightningWeights;
  /**
   * A directory with tokenizer.json and tokenizer_config.json to convert with, instead of the
   * checkpoint's own or the one it names; refused for an export, which carries its own.
   */
  tokenizer?: string;
  onProgress?: (event: ResolveProgress) => void;
}

export interface ResolvedModel {
  exportDir: string;
  /** Of any family: callers that need one check it (readManifest refuses a family that is not served). */
  manifest: AnyExportManifest;
  source: {
    kind: 'hub' | 'checkpoint' | 'lightning' | 'export';
    reference: string;
    revision?: string;
    commit?: string;
    /** Set when the hub was not asked: offline mode, or the hub could not be reached and the cache was used. */
    cacheOnly?: CacheOnlyReason;
  };
  /** Things worth telling the user, e.g. that a possibly outdated cache is in use or a stale export was rebuilt. */
  notices: string[];
}

const VariantSchema = z.object({
  head: z.enum(EXPORT_HEADS).default('positions'),
  dtype: z.enum(WEIGHT_DTYPES).default('fp32'),
  fused: z.boolean().default(true),
  weights: z.enum(LIGHTNING_WEIGHTS).optional(),
  tokenizer: z.string().min(1).optional(),
});
type Variant = z.infer<typeof VariantSchema>;

/** One resolveModel call: what was asked for, and what it has to report. */
interface Resolution {
  reference: string;
  variant: Variant;
  modelsDir: string;
  options: ResolveOptions;
  notices: string[];
  /** Built on first use: a local export needs no hub settings, so a bad HF_TOKEN must not fail it. */
  hub: () => HubSession;
}

const CHECKPOINT_FILES = [CONFIG_FILE, WEIGHTS_FILE] as const;

/**
 * `reference`: a directory holding an export (manifest.json) or a checkpoint (config.json +
 * model.safetensors), a seed's Lightning .ckpt file, or a hub id `owner/name[@revision]` such
 * as DEFAULT_MODEL.
 */
export async function resolveModel(reference: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const resolution = startResolution(reference, options);
  const parsed = parseReference(reference);
  if (parsed.kind === 'lightning') return resolveLightning(resolution, parsed.file);
  if (resolution.variant.weights !== undefined) {
    throw fieldError(ErrorCodes.invalidArgument, 'weights', `weights: ${reference} is not a Lightning .ckpt file; the choice of EMA or raw weights applies to those only`);
  }
  if (parsed.kind === 'hub') return resolveHubModel(resolution, parsed.repo, parsed.revision);
  if (existsSync(join(parsed.dir, MANIFEST_FILE))) return resolveExport(resolution, parsed.dir);
  if (CHECKPOINT_FILES.every((file) => existsSync(join(parsed.dir, file)))) return resolveCheckpoint(resolution, parsed.dir);
  throw new MdlmError(
    ErrorCodes.modelNotFound,
    `${reference} holds neither an exported model (${MANIFEST_FILE}) nor a checkpoint (${CONFIG_FILE} and ${WEIGHTS_FILE})`,
  );
}

function startResolution(reference: string, options: ResolveOptions): Resolution {
  const variant = VariantSchema.safeParse({ head: options.head, dtype: options.dtype, fused: options.fused, weights: options.weights, tokenizer: options.tokenizer });
  if (!variant.success) throw new MdlmError(ErrorCodes.invalidArgument, `model options: ${describeZodIssues(variant.error)}`);
  const notices: string[] = [];
  let session: HubSession | undefined;
  return {
    reference,
    variant: variant.data,
    modelsDir: options.modelsDir ?? defaultModelsDir(),
    options,
    notices,
    hub: () => (session ??= { settings: hubSettings(options), onProgress: (event) => options.onProgress?.(event), notices }),
  };
}

async function resolveHubModel(resolution: Resolution, repo: string, revision: string): Promise<ResolvedModel> {
  const session = resolution.hub();
  const snapshot = await fetchSnapshot({ repo, revision, files: [...CHECKPOINT_FILES, ...TOKENIZER_FILES] }, session);
  requireFiles(snapshot, CHECKPOINT_FILES, session.settings);
  const converted = await convertCached(resolution, snapshot.dir, repo.replaceAll('/', '--'), snapshot.commit);
  return {
    ...converted,
    source: { kind: 'hub', reference: resolution.reference, revision, commit: snapshot.commit, cacheOnly: snapshot.cacheOnly },
    notices: resolution.notices,
  };
}

async function resolveCheckpoint(resolution: Resolution, dir: string): Promise<ResolvedModel> {
  const converted = await convertCached(resolution, dir, 'local');
  return { ...converted, source: { kind: 'checkpoint', reference: resolution.reference }, notices: resolution.notices };
}

/** A .ckpt converts like a checkpoint directory, keyed by the file's own hash and the weights chosen (EMA unless asked). */
async function resolveLightning(resolution: Resolution, file: string): Promise<ResolvedModel> {
  const converted = await convertCached({ ...resolution, variant: { ...resolution.variant, weights: resolution.variant.weights ?? 'ema' } }, file, 'local');
  return { ...converted, source: { kind: 'lightning', reference: resolution.reference }, notices: resolution.notices };
}

/**
 * An export is used as it is: its dtype and fused operators are what it was built with
 * (--dtype chooses only what a conversion builds). Its head must be the one asked for, since
 * the other cannot run: the error says how to build the right one.
 */
async function resolveExport(resolution: Resolution, dir: string): Promise<ResolvedModel> {
  if (resolution.variant.tokenizer !== undefined) {
    throw fieldError(ErrorCodes.invalidArgument, 'tokenizer', `tokenizer: ${dir} is an export, which carries the tokenizer it was exported with; --tokenizer applies to a checkpoint being converted`);
  }
  const manifest = await readAnyManifest(dir);
  const again = `export its checkpoint (${manifest.checkpoint.source}) again`;
  if (manifest.builderVersion !== BUILDER_VERSION) {
    throw new MdlmError(ErrorCodes.staleExport, `${dir} was exported by builder version ${manifest.builderVersion}, this build needs version ${BUILDER_VERSION}: ${again}`);
  }
  const wanted = resolution.variant.head;
  if (manifest.head !== wanted) {
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `${dir} is a ${manifest.head}-head export, and the ${wanted} head is needed here: ${again} with \`mdlm export --head ${wanted}\`${wanted === 'positions' ? ' (the default)' : ''}`,
    );
  }
  return { exportDir: dir, manifest, source: { kind: 'export', reference: resolution.reference }, notices: resolution.notices };
}

/**
 * `id` names the conversion directory: the commit for a hub model, else the checkpoint's own
 * hash (a .ckpt's: the file's). An explicit tokenizer is part of the key.
 */
async function convertCached(resolution: Resolution, checkpointDir: string, namespace: string, id?: string): Promise<{ exportDir: string; manifest: AnyExportManifest }> {
  const { tokenizer, ...variant } = resolution.variant;
  const key: ExportKey = {
    ...variant,
    checkpointSha256: isLightningFile(checkpointDir) ? await fileSha256(checkpointDir) : await checkpointHash(checkpointDir),
    tokenizerSha256: tokenizer === undefined ? undefined : await tokenizerFilesHash(tokenizer),
  };
  const exportDir = conversionDir(resolution.modelsDir, namespace, id ?? key.checkpointSha256, key);
  const manifest = await ensureConverted({
    exportDir,
    checkpointDir,
    key,
    tokenizerDir: async () => tokenizer ?? tokenizerDirFor(checkpointDir, resolution.hub(), key.checkpointSha256),
    onProgress: (done, total) => resolution.options.onProgress?.({ phase: 'convert', done, total }),
    notices: resolution.notices,
  });
  return { exportDir, manifest };
}
