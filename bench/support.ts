/** What several benchmarks share: synthetic models exported the way the server loads them, flags, medians and the machine. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
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

/** /proc/cpuinfo's flags for the instruction sets onnxruntime's CPU kernels (MLAS) choose between. */
const INSTRUCTION_SETS = [
  ['AVX2', 'avx2'],
  ['AVX-512F', 'avx512f'],
  ['AVX-512 VNNI', 'avx512_vnni'],
  ['AVX-VNNI', 'avx_vnni'],
] as const;

/**
 * The machine a figure was measured on: CPU model, cores, the instruction sets that move
 * onnxruntime's speed (up to 2× between an AVX-512 VNNI machine and an AVX2-only one), and
 * onnxruntime-node's version. Every bench prints it with its tables.
 */
export function machineLine(): string {
  const flags = existsSync('/proc/cpuinfo') ? /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) : undefined;
  const sets = flags === undefined ? 'instruction sets unknown (no /proc/cpuinfo)' : INSTRUCTION_SETS.map(([name, flag]) => `${name} ${flags.includes(flag) ? 'yes' : 'no'}`).join(', ');
  const ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  return `machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores; ${sets}; onnxruntime-node ${ortVersion}`;
}
