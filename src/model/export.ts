import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LightningWeights, type MdlmConfig, checkpointHash } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError, isMdlmError } from '../errors.js';
import { MdlmTokenizer, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, buildGpt2TokenizerConfig } from '../tokenizer/index.js';
import { writeDirAtomically } from '../util/atomic.js';
import { fileSha256 } from '../util/hash.js';
import type { DitNetwork, DitWeights } from './dit-network.js';
import { GraphBuilder } from './graph-builder.js';
import type { ExportHead } from './heads.js';
import type { WeightDtype } from './layers.js';
import { BUILDER_VERSION, DATA_FILE, type ExportManifestBase, MANIFEST_FILE, MODEL_FILE, OPSETS } from './manifest.js';

export interface ExportOptions {
  /** A checkpoint directory (MDLM or GPT-2), or a Lightning .ckpt file of the seed (MDLM, SEDD or AR). */
  checkpointDir: string;
  /** A .ckpt's weights: `ema` (default, what the seed samples and evaluates with) or `raw`. */
  weights?: LightningWeights;
  outDir: string;
  head: ExportHead;
  dtype?: WeightDtype;
  fused?: boolean;
  /**
   * Directory with the tokenizer.json / tokenizer_config.json to ship with the export;
   * defaults to the checkpoint directory when it has them.
   */
  tokenizerDir?: string;
  /** MDLM only. Defaults to the tokenizer's mask id (spec §1), or vocab_size − 1 without a tokenizer. */
  maskIndex?: number;
  /** The checkpoint's sha256 when the caller has already computed it (saves reading the weights twice). */
  checkpointSha256?: string;
  /** Recorded in the manifest: the hash of tokenizer files chosen explicitly, which the conversion cache keys on. */
  tokenizerSha256?: string;
  /** Called as weights are written: bytes so far and the expected total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** The tokenizer an export ships: its two files, as they will be written. */
export interface TokenizerFiles {
  tokenizer: MdlmTokenizer;
  files: Record<typeof TOKENIZER_FILE | typeof TOKENIZER_CONFIG_FILE, Buffer>;
}

/** A model family's network, opened from its checkpoint: what the export builds and what its manifest records. */
export interface ExportNetwork {
  tokenizer: TokenizerFiles | undefined;
  weightBytes: number;
  build(builder: GraphBuilder): void;
  /** The family's own manifest fields (its on-disk tag, config, mask index...), beside what every export records. */
  manifest: Record<string, unknown>;
  /** A .ckpt's own hash and weights choice (a directory is hashed by checkpointHash). */
  lightning?: { sha256: string; weights: LightningWeights };
  close(): void;
}

export interface GraphOptions {
  head: ExportHead;
  dtype: WeightDtype;
  fused: boolean;
}

/** The graph an export asks for, its defaults filled in (fp32, onnxruntime's fused operators). */
export function graphOptions(options: ExportOptions): GraphOptions {
  return { head: options.head, dtype: options.dtype ?? 'fp32', fused: options.fused ?? true };
}

/**
 * Writes an opened network as an ONNX model directory (model.onnx, model.onnx.data,
 * manifest.json), and closes it. Weights stream from the checkpoint to the external data file
 * one tensor at a time; the directory appears only when complete. Which network a checkpoint
 * holds is its family's to say (src/families/export.ts).
 */
export async function writeExport(network: ExportNetwork, options: ExportOptions): Promise<ExportManifestBase & Record<string, unknown>> {
  const { dtype, fused } = graphOptions(options);
  const { tokenizer } = network;
  try {
    const sha256 = options.checkpointSha256 ?? network.lightning?.sha256 ?? (await checkpointHash(options.checkpointDir));
    return await writeDirAtomically(options.outDir, async (dir) => {
      // A progress estimate (int8 keeps the embeddings and the output layer in float32: about half overall too), completed once the graph is built.
      const expectedBytes = network.weightBytes * (dtype === 'fp32' ? 1 : 0.5);
      const builder = new GraphBuilder(join(dir, MODEL_FILE), join(dir, DATA_FILE), DATA_FILE, (done) => done < expectedBytes && options.onProgress?.(done, expectedBytes));
      let modelBytes: number;
      try {
        network.build(builder);
        modelBytes = builder.finish(OPSETS, BUILDER_VERSION);
        options.onProgress?.(expectedBytes, expectedBytes);
      } catch (error) {
        builder.abandon();
        throw isMdlmError(error) ? error : new MdlmError(ErrorCodes.exportFailed, `export failed: ${(error as Error).message}`, { cause: error });
      }
      const manifest = {
        format: 'mdlm-serve-onnx',
        builderVersion: BUILDER_VERSION,
        ...network.manifest,
        head: options.head,
        dtype,
        fused,
        opsets: { ...OPSETS },
        tokenizer: tokenizer !== undefined,
        checkpoint: { sha256, source: options.checkpointDir, weights: network.lightning?.weights, tokenizerSha256: options.tokenizerSha256 },
        files: {
          model: MODEL_FILE,
          data: DATA_FILE,
          dataBytes: builder.externalBytes,
          modelBytes,
          modelSha256: await fileSha256(join(dir, MODEL_FILE)),
          dataSha256: builder.externalSha256,
        },
        createdAt: new Date().toISOString(),
      } satisfies ExportManifestBase & Record<string, unknown>;
      for (const [file, bytes] of Object.entries(tokenizer?.files ?? {})) await writeFile(join(dir, file), bytes);
      await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    });
  } finally {
    network.close();
  }
}

/** A network class of the seed's DIT blocks (src/families: MDLM and SEDD share one, the AR baseline has its own). */
export type DitGraph = new (...args: ConstructorParameters<typeof DitNetwork>) => DitNetwork;

/**
 * A network of DIT blocks from open weights, built by `Graph` and recorded with the family's
 * `fields`; the weights are closed if anything fails.
 */
export async function openDitNetwork(
  checkpoint: DitWeights & { weightBytes: number; close(): void },
  Graph: DitGraph,
  fields: Record<string, unknown>,
  options: ExportOptions,
): Promise<ExportNetwork> {
  try {
    const tokenizer = await readTokenizer(options, false);
    const maskIndex = options.maskIndex ?? tokenizer?.tokenizer.maskId ?? checkpoint.config.vocab_size - 1;
    checkVocabulary(checkpoint.config, maskIndex, tokenizer?.tokenizer);
    return {
      tokenizer,
      weightBytes: checkpoint.weightBytes,
      build: (builder) => new Graph(builder, checkpoint, { ...graphOptions(options), maskIndex }).build(),
      manifest: { ...fields, config: checkpoint.config, maskIndex },
      close: () => checkpoint.close(),
    };
  } catch (error) {
    checkpoint.close();
    throw error;
  }
}

/**
 * The tokenizer files the export ships: from --tokenizer, else the checkpoint's own, else
 * none. GPT-2 uploads may ship tokenizer.json without a tokenizer_config.json (transformers
 * then uses GPT2TokenizerFast's defaults): the export writes those defaults, so that the
 * end-of-text token is known.
 */
export async function readTokenizer(options: ExportOptions, gpt2Defaults: boolean): Promise<TokenizerFiles | undefined> {
  const dir = options.tokenizerDir ?? (existsSync(join(options.checkpointDir, TOKENIZER_FILE)) ? options.checkpointDir : undefined);
  if (dir === undefined) return undefined;
  const configPath = join(dir, TOKENIZER_CONFIG_FILE);
  if (gpt2Defaults && !existsSync(configPath)) {
    const tokenizerJson = await readFile(join(dir, TOKENIZER_FILE));
    const config = buildGpt2TokenizerConfig();
    const tokenizer = MdlmTokenizer.fromJson(parseJson(tokenizerJson, join(dir, TOKENIZER_FILE)), config);
    return { tokenizer, files: { [TOKENIZER_FILE]: tokenizerJson, [TOKENIZER_CONFIG_FILE]: Buffer.from(`${JSON.stringify(config, null, 2)}\n`) } };
  }
  const tokenizer = await MdlmTokenizer.fromFiles(dir);
  return { tokenizer, files: { [TOKENIZER_FILE]: await readFile(join(dir, TOKENIZER_FILE)), [TOKENIZER_CONFIG_FILE]: await readFile(configPath) } };
}

function parseJson(bytes: Buffer, path: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new MdlmError(ErrorCodes.tokenizerError, `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** The model's vocabulary must hold every tokenizer id and the mask. */
function checkVocabulary(config: MdlmConfig, maskIndex: number, tokenizer: MdlmTokenizer | undefined): void {
  if (!Number.isInteger(maskIndex) || maskIndex < 0 || maskIndex >= config.vocab_size) {
    throw new MdlmError(ErrorCodes.invalidArgument, `mask index ${maskIndex} is outside the vocabulary [0, ${config.vocab_size})`);
  }
  if (tokenizer !== undefined && tokenizer.vocabSize > config.vocab_size) throw tooManyTokens(tokenizer, config.vocab_size);
}

export function tooManyTokens(tokenizer: MdlmTokenizer, vocabSize: number): MdlmError {
  return new MdlmError(ErrorCodes.invalidCheckpoint, `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${vocabSize}`);
}
