import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { PplReportSchema, mergePplReports } from '../../evaluation/index.js';
import { describeZodIssues } from '../../util/zod.js';
import { parseFlags } from '../options.js';
import { textReport } from './eval-ppl.js';

const MergeFlags = z.object({ json: z.boolean().default(false) });

/** `mdlm eval merge`: the shards of one `eval ppl --shard` run, as the figures of the whole run. */
export function registerEvalMerge(group: Command): void {
  group
    .command('merge')
    .description('Combine the JSON of every shard of one `eval ppl --shard I/N --json` run into the figures of the whole run: Σ nll / Σ tokens, added in the order one run adds them')
    .argument('<files...>', "the shards' JSON files, one per shard, in any order")
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], raw: Record<string, unknown>, command: Command) => {
      const flags = parseFlags(MergeFlags, raw, command);
      const reports = await Promise.all(files.map(readShard));
      const merged = mergePplReports(reports);
      process.stdout.write(flags.json ? `${JSON.stringify(merged)}\n` : textReport(merged));
    });
}

async function readShard(path: string): Promise<z.infer<typeof PplReportSchema>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MdlmError(ErrorCodes.invalidArgument, `eval merge: cannot read ${path} (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MdlmError(ErrorCodes.invalidShards, `eval merge: ${path} is not JSON (give what eval ppl --shard I/N --json printed)`);
  }
  const parsed = PplReportSchema.safeParse(json);
  if (!parsed.success) throw new MdlmError(ErrorCodes.invalidShards, `eval merge: ${path} is not the JSON of eval ppl (${describeZodIssues(parsed.error)})`);
  return parsed.data;
}
