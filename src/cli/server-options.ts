/** The flags of the commands that can send their work to a running server instead of loading a model. */
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { MdlmClient } from '../client/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { type Shard, parseShard } from '../evaluation/index.js';
import { cliInt, kebab } from './options.js';

export const ServerFlags = z.object({
  server: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  concurrency: cliInt(1, 1024),
});
export type ServerChoice = z.infer<typeof ServerFlags>;

/** --server, --api-key (or MDLM_API_KEY, as `serve` reads it) and --concurrency; --shard where `sharded`. */
export function addServerOptions(command: Command, { sharded }: { sharded: boolean }): Command {
  command
    .option('--server <url>', 'send the work to this running mdlm-serve (or a Service in front of many) instead of loading a model here')
    .addOption(new Option('--api-key <key>', "the server's API key").env('MDLM_API_KEY'))
    .option(
      '--concurrency <n>',
      'with --server: requests in flight (1: the local figures to the last bit on an idle server; more: faster, the last bits may differ)',
      '1',
    );
  if (sharded)
    command.option(
      '--shard <I/N>',
      'score shard I of N (from 0), for batch jobs; N alone takes I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); merge the shards with mdlm eval merge',
    );
  return command;
}

/** The client of --server; the local model's flags, given explicitly, are refused as having no effect. */
export function serverClient(flags: ServerChoice, command: Command, localFlags: readonly string[]): MdlmClient | undefined {
  if (flags.server === undefined) return undefined;
  const given = localFlags.filter((name) => command.getOptionValueSource(name) === 'cli' || command.getOptionValueSource(name) === 'env');
  if (given.length > 0)
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `${given.map((name) => `--${kebab(name)}`).join(', ')}: the server's model is used with --server; drop ${given.length === 1 ? 'it' : 'them'}`,
    );
  return new MdlmClient({ url: flags.server, apiKey: flags.apiKey });
}

export function shardOf(command: Command): Shard | undefined {
  return parseShard(command.getOptionValue('shard') as string | undefined);
}
