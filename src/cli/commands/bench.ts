import type { Command } from 'commander';
import { registerBenchHttp } from './bench-http.js';
import { registerBenchSeedTables } from './bench-seed-tables.js';

/** `mdlm bench <benchmark>`: each benchmark is a subcommand in its own file. */
export function registerBench(program: Command): void {
  const group = program.command('bench').description('Benchmarks: the published figures rerun on this machine, and load on a running server');
  registerBenchSeedTables(group);
  registerBenchHttp(group);
}
