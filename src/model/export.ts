import { existsSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Checkpoint, type MdlmConfig, checkpointHash } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError, isMdlmError } from '../errors.js';
import { MdlmTokenizer, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../tokenizer/index.js';
import { writeDirAtomically } from '../util/atomic.js';
import { bytesSha256, fileSha256 } from '../util/hash.js';
import { GraphBuilder } from './graph-builder.js';
import {
  BUILDER_VERSION,
  DATA_FILE,
  type ExportManifest,
  MANIFEST_FILE,
  MODEL_FILE,
  OPSETS,
} from './manifest.js';
import type { ExportHead } from './heads.js';
import { MdlmModel, type WeightDtype } from './mdlm-graph.js';

export interface ExportOptions {
  checkpointDir: string;
  outDir: string;
  head: ExportHead;
  dtype?: WeightDtype;
  fused?: boolean;
  /**
   * Directory with the tokenizer.json / tokenizer_config.json to ship with the export;
   * defaults to the checkpoint directory when it has them.
   */
  tokenizerDir?: string;
  /** Defaults to the tokenizer's mask id (spec §1), or vocab_size − 1 without a tokenizer. */
  maskIndex?: number;
  /** The checkpoint's sha256 when the caller has already computed it (saves reading the weights twice). */
  checkpointSha256?: string;
  /** Called as weights are written: bytes so far and the expected total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/**
 * Converts an MDLM checkpoint into an ONNX model directory (model.onnx, model.onnx.data,
 * manifest.json). Weights stream from the safetensors file to the external data file one
 * tensor at a time; the directory appears only when complete.
 */
export async function exportModel(options: ExportOptions): Promise<ExportManifest> {
  const sha256 = options.checkpointSha256 ?? (await checkpointHash(options.checkpointDir));
  const checkpoint = await Checkpoint.open(options.checkpointDir);
  try {
    const tokenizerDir = options.tokenizerDir ?? (existsSync(join(options.checkpointDir, TOKENIZER_FILE)) ? options.checkpointDir : undefined);
    const tokenizer = tokenizerDir === undefined ? undefined : await MdlmTokenizer.fromFiles(tokenizerDir);
    const maskIndex = options.maskIndex ?? tokenizer?.maskId ?? checkpoint.config.vocab_size - 1;
    checkVocabulary(checkpoint.config, maskIndex, tokenizer);
    const dtype = options.dtype ?? 'fp32';
    const fused = options.fused ?? true;
    return await writeDirAtomically(options.outDir, async (dir) => {
      const expectedBytes = checkpoint.weightBytes * (dtype === 'fp16' ? 0.5 : 1);
      const builder = new GraphBuilder(join(dir, DATA_FILE), DATA_FILE, (done) => options.onProgress?.(Math.min(done, expectedBytes), expectedBytes));
      let modelBytes: Uint8Array;
      try {
        new MdlmModel(builder, checkpoint, { head: options.head, dtype, fused, maskIndex }).build();
        modelBytes = builder.finish(OPSETS, BUILDER_VERSION);
      } catch (error) {
        builder.abandon();
        throw isMdlmError(error) ? error : new MdlmError(ErrorCodes.exportFailed, `export failed: ${(error as Error).message}`, { cause: error });
      }
      const manifest: ExportManifest = {
        format: 'mdlm-serve-onnx',
        architecture: 'mdlm',
        builderVersion: BUILDER_VERSION,
        head: options.head,
        dtype,
        fused,
        opsets: { ...OPSETS },
        maskIndex,
        tokenizer: tokenizer !== undefined,
        config: checkpoint.config,
        checkpoint: { sha256, source: options.checkpointDir },
        files: {
          model: MODEL_FILE,
          data: DATA_FILE,
          dataBytes: builder.externalBytes,
          modelBytes: modelBytes.byteLength,
          modelSha256: bytesSha256(modelBytes),
          dataSha256: await fileSha256(join(dir, DATA_FILE)),
        },
        createdAt: new Date().toISOString(),
      };
      if (tokenizerDir !== undefined) {
        for (const file of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) await copyFile(join(tokenizerDir, file), join(dir, file));
      }
      await writeFile(join(dir, MODEL_FILE), modelBytes);
      await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    });
  } finally {
    checkpoint.close();
  }
}

/** The model's vocabulary must hold every tokenizer id and the mask. */
function checkVocabulary(config: MdlmConfig, maskIndex: number, tokenizer: MdlmTokenizer | undefined): void {
  if (!Number.isInteger(maskIndex) || maskIndex < 0 || maskIndex >= config.vocab_size) {
    throw new MdlmError(ErrorCodes.invalidArgument, `mask index ${maskIndex} is outside the vocabulary [0, ${config.vocab_size})`);
  }
  if (tokenizer !== undefined && tokenizer.vocabSize > config.vocab_size) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocab_size}`,
    );
  }
}
