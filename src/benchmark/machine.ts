import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The vector extensions the project's kernels care about, as /proc/cpuinfo names them. */
const FLAGS = { avx2: 'AVX2', avx512f: 'AVX-512', avx512_vnni: 'VNNI' } as const;

/** The machine the bench runs on: CPU model, cores and vector extensions (Linux reports the last). */
export function describeMachine(): string {
  const cores = cpus();
  const model = cores[0]?.model.trim() ?? 'unknown CPU';
  return `${model}, ${cores.length} cores${vectorExtensions()}`;
}

function vectorExtensions(): string {
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  const present = Object.entries(FLAGS).flatMap(([flag, name]) => (flags.has(flag) ? [name] : []));
  return present.length === 0 ? '' : `, ${present.join(', ')}`;
}
