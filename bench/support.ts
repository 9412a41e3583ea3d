/** What several benchmarks share: synthetic models exported the way the server loads them. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2_MDLM_VOCAB_SIZE, type SynthShape, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel } from '../src/model/export.js';

/** The offline GPT-2 tokenizer this repository carries, for models of GPT-2's vocabulary. */
export const GPT2_TOKENIZER_DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'gpt2');

/** A synthetic checkpoint of `shape`, exported with the positions head (and a tokenizer) under `work/name`. */
export async function benchExport(work: string, name: string, shape: SynthShape): Promise<string> {
  const checkpoint = join(work, `${name}-checkpoint`);
  await synthesizeCheckpoint({ outDir: checkpoint, shape, seed: 1 });
  const exportDir = join(work, name);
  const tokenizerDir = shape.vocab_size === GPT2_MDLM_VOCAB_SIZE ? GPT2_TOKENIZER_DIR : undefined;
  await exportModel({ checkpointDir: checkpoint, outDir: exportDir, head: 'positions', tokenizerDir });
  rmSync(checkpoint, { recursive: true });
  return exportDir;
}
