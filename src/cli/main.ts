import { Command, CommanderError } from 'commander';
import { isMdlmError } from '../errors.js';
import { packageVersion } from '../util/package-version.js';
import { registerExport } from './commands/export.js';
import { registerServe } from './commands/serve.js';
import { registerBench } from './commands/bench.js';
import { registerEval } from './commands/eval.js';
import { registerGenerate } from './commands/generate.js';
import { registerPrepare } from './commands/prepare.js';
import { registerScore } from './commands/score.js';
import { registerSynth } from './commands/synth.js';
import { markCliLoaded } from './startup-report.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('mdlm')
    .description('mdlm-serve: run MDLM masked diffusion language models')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerSynth(program);
  registerExport(program);
  registerPrepare(program);
  registerServe(program);
  registerGenerate(program);
  registerScore(program);
  registerEval(program);
  registerBench(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (0 ok, 1 failure, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  markCliLoaded();
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    if (isMdlmError(error)) {
      process.stderr.write(`error [${error.code}]: ${error.message}\n`);
      return error.code === 'invalid_argument' ? EXIT_USAGE : EXIT_FAILURE;
    }
    process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
