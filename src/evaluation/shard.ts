/**
 * One shard of an evaluation, for batch jobs that spread a corpus or a sample set over many
 * pods: unit k (a batch of rows, a sample) belongs to shard k mod count. A Kubernetes Indexed
 * Job gives each pod its index in JOB_COMPLETION_INDEX.
 */
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';

export interface Shard {
  index: number;
  count: number;
}

const Whole = z
  .string()
  .regex(/^\d{1,9}$/)
  .transform(Number);
const Count = Whole.pipe(z.number().min(1));
const Index = Whole;

/**
 * `--shard I/N`, or `--shard N` with I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's);
 * undefined when there is no flag.
 */
export function parseShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (flag === undefined) return undefined;
  const [first, second] = flag.split('/');
  const fromJob = second === undefined;
  const index = Index.safeParse(fromJob ? env.JOB_COMPLETION_INDEX : first);
  const count = Count.safeParse(fromJob ? first : second);
  if (!count.success)
    throw new MdlmError(ErrorCodes.invalidArgument, `--shard: "${flag}" is not I/N (shard I of N, counted from 0) or N (with JOB_COMPLETION_INDEX set)`);
  if (!index.success) {
    const source = fromJob ? `JOB_COMPLETION_INDEX (${env.JOB_COMPLETION_INDEX ?? 'unset'})` : `"${first}"`;
    throw new MdlmError(
      ErrorCodes.invalidArgument,
      `--shard: the shard index ${source} is not a whole number from 0; give --shard I/N, or run in an Indexed Job`,
    );
  }
  if (index.data >= count.data) throw new MdlmError(ErrorCodes.invalidArgument, `--shard: index ${index.data} is not below the shard count ${count.data}`);
  return { index: index.data, count: count.data };
}

/** Whether unit `k` belongs to the shard (every unit does without one). */
export function inShard(k: number, shard: Shard | undefined): boolean {
  return shard === undefined || k % shard.count === shard.index;
}

/**
 * Checks that `shards` are each shard of one run exactly once, with the same `settings`
 * (what must agree between them, as JSON-comparable values); returns the count.
 */
export function checkShards(shards: readonly { shard?: Shard; settings: unknown }[], what: string): number {
  const [first] = shards;
  if (first?.shard === undefined) throw new MdlmError(ErrorCodes.invalidShards, `${what}: give the JSON of every shard (each printed with --shard and --json)`);
  const count = first.shard.count;
  const seen = new Set<number>();
  for (const [position, entry] of shards.entries()) {
    if (entry.shard === undefined || entry.shard.count !== count)
      throw new MdlmError(ErrorCodes.invalidShards, `${what}: file ${position + 1} is not one of ${count} shards`);
    if (seen.has(entry.shard.index)) throw new MdlmError(ErrorCodes.invalidShards, `${what}: shard ${entry.shard.index}/${count} is given twice`);
    if (JSON.stringify(entry.settings) !== JSON.stringify(first.settings)) {
      throw new MdlmError(
        ErrorCodes.invalidShards,
        `${what}: shard ${entry.shard.index}/${count} ran with other settings or another corpus (${JSON.stringify(entry.settings)}, not ${JSON.stringify(first.settings)})`,
      );
    }
    seen.add(entry.shard.index);
  }
  const missing = Array.from({ length: count }, (_, index) => index).filter((index) => !seen.has(index));
  if (missing.length > 0)
    throw new MdlmError(ErrorCodes.invalidShards, `${what}: shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${count} missing`);
  return count;
}
