import type { Command } from 'commander';
import { registerEvalGenPpl } from './eval-gen-ppl.js';
import { registerEvalMerge } from './eval-merge.js';
import { registerEvalPpl } from './eval-ppl.js';

/** `mdlm eval <metric>`: each metric is a subcommand in its own file. */
export function registerEval(program: Command): void {
  const group = program.command('eval').description('Evaluate models and samples the way the seed does: ppl (its ppl_eval on a corpus), gen-ppl (generative perplexity), merge (the shards of one run)');
  registerEvalPpl(group);
  registerEvalGenPpl(group);
  registerEvalMerge(group);
}
