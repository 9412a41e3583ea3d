import type { Command } from 'commander';
import { registerEvalGenPpl } from './eval-gen-ppl.js';

/** `mdlm eval <metric>`: each metric is a subcommand in its own file. */
export function registerEval(program: Command): void {
  const group = program.command('eval').description('Evaluate samples and models the way the seed does');
  registerEvalGenPpl(group);
}
