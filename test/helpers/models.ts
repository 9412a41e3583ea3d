import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type SynthShape, SYNTH_PRESETS, synthesizeCheckpoint } from '../../src/checkpoint/synth.js';
import { exportModel } from '../../src/families/index.js';
import type { ExportHead, WeightDtype } from '../../src/model/index.js';
import { tempDir } from './tmp.js';

export const TINY_SHAPE: SynthShape = { ...SYNTH_PRESETS.tiny };

/** A synthetic checkpoint in a fresh temporary directory. */
export async function synthCheckpoint(shape: Partial<SynthShape> = {}, seed = 1): Promise<string> {
  const dir = join(tempDir(), 'checkpoint');
  await synthesizeCheckpoint({ outDir: dir, shape: { ...TINY_SHAPE, ...shape }, seed });
  return dir;
}

export async function exportHead(checkpointDir: string, head: ExportHead, fused = true): Promise<string> {
  const outDir = join(tempDir(), `export-${head}`);
  await exportModel({ checkpointDir, outDir, head, fused });
  return outDir;
}

/** An export of `checkpointDir` with the given head, dtype and operators, in a fresh temporary directory. */
export async function exportVariant(checkpointDir: string, head: ExportHead, dtype: WeightDtype, fused: boolean): Promise<string> {
  const outDir = join(tempDir(), `export-${head}-${dtype}-${fused ? 'fused' : 'standard'}`);
  await exportModel({ checkpointDir, outDir, head, dtype, fused });
  return outDir;
}

/** The logits head's output for rows of ids (and sigma, for a time-conditioned MDLM). */
export async function runLogits(exportDir: string, rows: number[][], sigma?: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(exportDir, 'model.onnx'));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, (rows[0] as number[]).length]),
  };
  if (session.inputNames.includes('sigma')) feeds.sigma = new ort.Tensor('float32', Float32Array.from(sigma ?? []), [rows.length]);
  const logits = (await session.run(feeds)).logits?.data as Float32Array;
  await session.release();
  return logits;
}
