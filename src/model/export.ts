import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Checkpoint,
  Gpt2Checkpoint,
  LightningCheckpoint,
  type LightningWeights,
  type MdlmConfig,
  checkpointArchitecture,
  checkpointHash,
  isLightningFile,
} from '../checkpoint/index.js';
import { ErrorCodes, MdlmError, isMdlmError } from '../errors.js';
import { MdlmTokenizer, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, buildGpt2TokenizerConfig } from '../tokenizer/index.js';
import { writeDirAtomically } from '../util/atomic.js';
import { fileSha256 } from '../util/hash.js';
import { ArModel } from './ar-graph.js';
import type { DitNetwork, DitWeights } from './dit-network.js';
import { Gpt2Model } from './gpt2-graph.js';
import { GraphBuilder } from './graph-builder.js';
import type { ExportHead } from './heads.js';
import type { WeightDtype } from './layers.js';
import {
  type AnyExportManifest,
  type ArExportManifest,
  BUILDER_VERSION,
  DATA_FILE,
  type ExportManifest,
  type Gpt2ExportManifest,
  MANIFEST_FILE,
  MODEL_FILE,
  OPSETS,
} from './manifest.js';
import { MdlmModel } from './mdlm-graph.js';

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
interface TokenizerFiles {
  tokenizer: MdlmTokenizer;
  files: Record<typeof TOKENIZER_FILE | typeof TOKENIZER_CONFIG_FILE, Buffer>;
}

/** One architecture's part of an export: the network to build and what its manifest records. */
interface Network {
  tokenizer: TokenizerFiles | undefined;
  weightBytes: number;
  build(builder: GraphBuilder): void;
  manifest:
    | Pick<ExportManifest, 'architecture' | 'parameterization' | 'config' | 'maskIndex'>
    | Pick<ArExportManifest, 'architecture' | 'parameterization' | 'config' | 'maskIndex'>
    | Pick<Gpt2ExportManifest, 'architecture' | 'config'>;
  /** A .ckpt's own hash and weights choice (a directory is hashed by checkpointHash). */
  lightning?: { sha256: string; weights: LightningWeights };
  close(): void;
}

/**
 * Converts a checkpoint into an ONNX model directory (model.onnx, model.onnx.data,
 * manifest.json): a directory, MDLM or GPT-2 (config.json's model_type says which), or a
 * seed's Lightning .ckpt (its hyper-parameters say which network). Weights stream from the
 * checkpoint to the external data file one tensor at a time; the directory appears only when
 * complete.
 */
export async function exportModel(options: ExportOptions): Promise<AnyExportManifest> {
  const dtype = options.dtype ?? 'fp32';
  const fused = options.fused ?? true;
  const graph = { head: options.head, dtype, fused };
  const network = await openNetwork(options, graph);
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
      } satisfies AnyExportManifest;
      for (const [file, bytes] of Object.entries(tokenizer?.files ?? {})) await writeFile(join(dir, file), bytes);
      await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    });
  } finally {
    network.close();
  }
}

type GraphOptions = { head: ExportHead; dtype: WeightDtype; fused: boolean };

async function openNetwork(options: ExportOptions, graph: GraphOptions): Promise<Network> {
  if (isLightningFile(options.checkpointDir)) return lightningNetwork(options, graph);
  if (options.weights !== undefined) {
    throw new MdlmError(ErrorCodes.invalidArgument, `${options.checkpointDir} is a checkpoint directory, which has one set of weights: a weights choice (ema or raw) applies to a Lightning .ckpt file only`);
  }
  if ((await checkpointArchitecture(options.checkpointDir)) === 'gpt2') return gpt2Network(options, graph);
  const checkpoint = await Checkpoint.open(options.checkpointDir);
  return ditNetwork(checkpoint, { architecture: 'mdlm', parameterization: 'subs' }, options, graph);
}

/** What a seed's network is served as: the architecture class that builds it, and how its outputs are read. */
type DitKind = Pick<ExportManifest, 'architecture' | 'parameterization'> | Pick<ArExportManifest, 'architecture' | 'parameterization'>;

/** A network of DIT blocks (MDLM, SEDD, AR) from open weights; the weights are closed if anything fails. */
async function ditNetwork(checkpoint: DitWeights & { weightBytes: number; close(): void }, kind: DitKind, options: ExportOptions, graph: GraphOptions): Promise<Network> {
  try {
    const tokenizer = await readTokenizer(options, false);
    const maskIndex = options.maskIndex ?? tokenizer?.tokenizer.maskId ?? checkpoint.config.vocab_size - 1;
    checkVocabulary(checkpoint.config, maskIndex, tokenizer?.tokenizer);
    const Model: new (...args: ConstructorParameters<typeof DitNetwork>) => DitNetwork = kind.architecture === 'ar' ? ArModel : MdlmModel;
    return {
      tokenizer,
      weightBytes: checkpoint.weightBytes,
      build: (builder) => new Model(builder, checkpoint, { ...graph, maskIndex }).build(),
      manifest: { ...kind, config: checkpoint.config, maskIndex },
      close: () => checkpoint.close(),
    };
  } catch (error) {
    checkpoint.close();
    throw error;
  }
}

/** A seed's .ckpt: its hyper-parameters say which network it is, and its own hash keys the export. */
async function lightningNetwork(options: ExportOptions, graph: GraphOptions): Promise<Network> {
  const checkpoint = await LightningCheckpoint.open(options.checkpointDir, { weights: options.weights, sha256: options.checkpointSha256 });
  let kind: DitKind;
  try {
    kind = servedKind(checkpoint);
  } catch (error) {
    checkpoint.close();
    throw error;
  }
  const network = await ditNetwork(checkpoint, kind, options, graph);
  return { ...network, lightning: { sha256: checkpoint.sha256, weights: checkpoint.weights } };
}

/**
 * The seed pairs backbone ar with parameterization ar, and dit with subs or sedd. Its SEDD
 * parameterization divides by e^σ − 1 with the network's own σ, which is zero without time
 * conditioning, and d3pm is its discrete-time variant, which nothing here implements.
 */
function servedKind(checkpoint: LightningCheckpoint): DitKind {
  const { backbone, parameterization, path } = checkpoint;
  const refuse = (why: string): never => {
    throw new MdlmError(ErrorCodes.unsupportedModel, `${path}: backbone ${backbone} with parameterization ${parameterization} ${why}`);
  };
  if (backbone === 'ar') return parameterization === 'ar' ? { architecture: 'ar', parameterization: 'ar' } : refuse('is not a model the seed trains (its AR backbone goes with parameterization ar)');
  if (parameterization === 'ar') return refuse('is not a model the seed trains (parameterization ar goes with backbone ar)');
  if (parameterization === 'd3pm') return refuse("cannot be served: d3pm is the seed's discrete-time variant, and only subs, sedd and ar are implemented");
  if (parameterization === 'sedd' && !checkpoint.config.time_conditioning) return refuse("cannot be served: the seed's SEDD score divides by e^σ − 1 with the network's σ, which is 0 without time_conditioning");
  return { architecture: 'mdlm', parameterization };
}

async function gpt2Network(options: ExportOptions, graph: GraphOptions): Promise<Network> {
  if (options.maskIndex !== undefined) {
    throw new MdlmError(ErrorCodes.invalidArgument, `${options.checkpointDir} is a GPT-2 checkpoint, which has no mask token: a mask index applies to MDLM checkpoints only`);
  }
  const checkpoint = await Gpt2Checkpoint.open(options.checkpointDir);
  try {
    const tokenizer = await readTokenizer(options, true);
    if (tokenizer !== undefined && tokenizer.tokenizer.vocabSize > checkpoint.config.vocab_size) throw tooManyTokens(tokenizer.tokenizer, checkpoint.config.vocab_size);
    return {
      tokenizer,
      weightBytes: checkpoint.weightBytes,
      build: (builder) => new Gpt2Model(builder, checkpoint, graph).build(),
      manifest: { architecture: 'gpt2', config: checkpoint.config },
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
async function readTokenizer(options: ExportOptions, gpt2Defaults: boolean): Promise<TokenizerFiles | undefined> {
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

function tooManyTokens(tokenizer: MdlmTokenizer, vocabSize: number): MdlmError {
  return new MdlmError(ErrorCodes.invalidCheckpoint, `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${vocabSize}`);
}
