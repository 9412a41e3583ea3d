import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** /proc/cpuinfo's flags for the instruction sets onnxruntime's CPU kernels (MLAS) choose between. */
const INSTRUCTION_SETS = [
  ['AVX2', 'avx2'],
  ['AVX-512F', 'avx512f'],
  ['AVX-512 VNNI', 'avx512_vnni'],
  ['AVX-VNNI', 'avx_vnni'],
] as const;

/**
 * The machine a figure was measured on: CPU model, cores, and the instruction sets that move
 * onnxruntime's speed (up to 2× between an AVX-512 VNNI machine and an AVX2-only one). Linux
 * reports the instruction sets; elsewhere they are unknown.
 */
export function describeMachine(): string {
  const flags = existsSync('/proc/cpuinfo') ? /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) : undefined;
  const sets = flags === undefined ? 'instruction sets unknown (no /proc/cpuinfo)' : INSTRUCTION_SETS.map(([name, flag]) => `${name} ${flags.includes(flag) ? 'yes' : 'no'}`).join(', ');
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores; ${sets}`;
}
