import { LightningCheckpoint, isLightningFile } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { type ExportNetwork, type ExportOptions, writeExport } from '../model/index.js';
import { type AnyExportManifest, familyOfCheckpointDir, familyOfLightning } from './registry.js';

/**
 * Converts a checkpoint into an ONNX model directory (model.onnx, model.onnx.data,
 * manifest.json): a Hugging Face directory, whose config.json's model_type names its family,
 * or a seed's Lightning .ckpt, whose hyper-parameters do. The family opens the network; the
 * shared pipeline (model/export.ts) builds and writes it.
 */
export async function exportModel(options: ExportOptions): Promise<AnyExportManifest> {
  // The manifest holds the family's own fields, which its schema reads back.
  return (await writeExport(await openNetwork(options), options)) as AnyExportManifest;
}

async function openNetwork(options: ExportOptions): Promise<ExportNetwork> {
  if (isLightningFile(options.checkpointDir)) return openLightning(options);
  if (options.weights !== undefined) {
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `${options.checkpointDir} is a checkpoint directory, which has one set of weights: a weights choice (ema or raw) applies to a Lightning .ckpt file only`,
    );
  }
  const family = await familyOfCheckpointDir(options.checkpointDir);
  return family.directory.open(options.checkpointDir, options);
}

/** A seed's .ckpt: its hyper-parameters say which family it is, and its own hash keys the export. */
async function openLightning(options: ExportOptions): Promise<ExportNetwork> {
  const checkpoint = await LightningCheckpoint.open(options.checkpointDir, { weights: options.weights, sha256: options.checkpointSha256 });
  let family: ReturnType<typeof familyOfLightning>;
  try {
    family = familyOfLightning(checkpoint);
  } catch (error) {
    checkpoint.close();
    throw error;
  }
  // The family's network closes the checkpoint if it cannot be opened.
  const network = await family.lightning.open(checkpoint, options);
  return { ...network, lightning: { sha256: checkpoint.sha256, weights: checkpoint.weights } };
}
