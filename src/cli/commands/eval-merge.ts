import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { type PplReport, PplReportSchema, mergePplReports } from '../../evaluation/index.js';
import { describeZodIssues } from '../../util/zod.js';
import { parseFlags } from '../options.js';
import { type GenPplJson, GenPplJsonSchema, genPplJson, genPplText, mergeGenPplJson } from './eval-gen-ppl.js';
import { textReport } from './eval-ppl.js';

const MergeFlags = z.object({ json: z.boolean().default(false) });

type ShardFile = { kind: 'ppl'; report: PplReport } | { kind: 'gen-ppl'; report: GenPplJson };

/** `mdlm eval merge`: the shards of one `eval ppl` or `eval gen-ppl` run with --shard, as the figures of the whole run. */
export function registerEvalMerge(group: Command): void {
  group
    .command('merge')
    .description(
      'Combine the JSON of every shard of one `eval ppl` or `eval gen-ppl` run (--shard I/N --json) into the figures of the whole run, added in the order one run adds them',
    )
    .argument('<files...>', "the shards' JSON files, one per shard, in any order")
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], raw: Record<string, unknown>, command: Command) => {
      const flags = parseFlags(MergeFlags, raw, command);
      const shards = await Promise.all(files.map(readShard));
      const print = (json: unknown, text: string) => process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : text);
      if (shards.every((shard) => shard.kind === 'ppl')) {
        const merged = mergePplReports(shards.map((shard) => shard.report));
        print(merged, textReport(merged));
      } else if (shards.every((shard) => shard.kind === 'gen-ppl')) {
        const { report, context } = mergeGenPplJson(shards.map((shard) => shard.report));
        print(genPplJson(report, context), genPplText(report, context));
      } else throw new MdlmError(ErrorCodes.invalidShards, 'eval merge: the files mix eval ppl and eval gen-ppl shards');
    });
}

async function readShard(path: string): Promise<ShardFile> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new MdlmError(
      ErrorCodes.invalidShards,
      `eval merge: cannot read ${path} as JSON (${(error as Error).message}); give what eval ppl or eval gen-ppl printed with --shard I/N --json`,
    );
  }
  const genPpl = typeof json === 'object' && json !== null && 'gen_ppl' in json;
  const parsed = genPpl ? GenPplJsonSchema.safeParse(json) : PplReportSchema.safeParse(json);
  if (!parsed.success)
    throw new MdlmError(
      ErrorCodes.invalidShards,
      `eval merge: ${path} is not the JSON of eval ${genPpl ? 'gen-ppl' : 'ppl'} (${describeZodIssues(parsed.error)})`,
    );
  return genPpl ? { kind: 'gen-ppl', report: parsed.data as GenPplJson } : { kind: 'ppl', report: parsed.data as PplReport };
}
