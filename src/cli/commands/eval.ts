import type { Command } from 'commander';
import { registerEvalPpl } from './eval-ppl.js';

/** `mdlm eval <what>`: evaluations of a model, each in its own file. */
export function registerEval(program: Command): void {
  const group = program.command('eval').description('Evaluate a model: ppl (the seed’s ppl_eval on a corpus)');
  registerEvalPpl(group);
  for (const command of group.commands) command.exitOverride();
}
