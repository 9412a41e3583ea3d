/** What several benchmarks share: synthetic models exported the way the server loads them, flags and medians. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { GPT2_MDLM_VOCAB_SIZE, type SynthShape, synthesizeCheckpoint } from '../src/checkpoint/synth.js';
import { exportModel } from '../src/families/index.js';

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

/** A flag such as --length 64,128,256: a comma-separated list of positive integers. */
export const intList = z
  .string()
  .transform((text) => text.split(',').map(Number))
  .pipe(z.array(z.number().int().positive()).min(1));

/** The middle value (the upper middle of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

export interface ProcessMemory {
  rss: number;
  anon: number;
  file: number;
}

/** VmRSS, RssAnon and RssFile of a process (all its threads), in MB. */
export function memoryOf(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Math.round(Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024);
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}
