import { join } from 'node:path';
import { type SynthShape, SYNTH_PRESETS, synthesizeCheckpoint } from '../../src/checkpoint/synth.js';
import { exportModel } from '../../src/model/export.js';
import type { ExportHead } from '../../src/model/index.js';
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
