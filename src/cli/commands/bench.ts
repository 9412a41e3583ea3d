import type { Command } from 'commander';
import { registerBenchSeedTables } from './bench-seed-tables.js';

/** `mdlm bench <benchmark>`: each benchmark is a subcommand in its own file. */
export function registerBench(program: Command): void {
  const group = program.command('bench').description('Benchmarks that reproduce published figures on this machine');
  registerBenchSeedTables(group);
}
