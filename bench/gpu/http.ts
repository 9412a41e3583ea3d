/**
 * `/v1/completions` under autocannon, served by the real CLI (`mdlm serve`) on one device, for
 * run.sh: one JSON line per concurrency level appended to --json. The server runs in its own
 * process, so that the load generator does not share its event loop. A server that cannot start
 * is an `error [code]` line on stderr and exit status 1 (run.sh records it as skipped).
 *
 *   node bench/gpu/http.js --export DIR --device cuda --json RESULTS
 *     [--concurrency 1,8,32] [--duration 10] [--max-tokens 128] [--steps 128] [--max-batch 32]
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readManifest } from '../../src/families/index.js';
import { DEVICES } from '../../src/runtime/providers.js';
import { type ServerProcess, autocannon, batchRows, intList, startServerProcess } from '../support.js';

const MDLM_CLI = join(import.meta.dirname, '..', '..', 'bin', 'mdlm.js');

const ArgsSchema = z.object({
  export: z.string().min(1),
  device: z.enum(DEVICES).exclude(['auto']),
  json: z.string().min(1),
  concurrency: intList.default([1, 8, 32]),
  duration: z.coerce.number().positive().default(10),
  maxTokens: z.coerce.number().int().positive().default(128),
  steps: z.coerce.number().int().positive().default(128),
  maxBatch: z.coerce.number().int().positive().default(32),
});
type Args = z.infer<typeof ArgsSchema>;

function parse(): Args {
  const names = ['export', 'device', 'json', 'concurrency', 'duration', 'max-tokens', 'steps', 'max-batch'] as const;
  const { values } = parseArgs({ options: Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<(typeof names)[number], { type: 'string' }> });
  return ArgsSchema.parse({ ...values, maxTokens: values['max-tokens'], maxBatch: values['max-batch'] });
}

const ModelList = z.object({ data: z.array(z.object({ id: z.string() })).min(1) });

async function main(): Promise<void> {
  const args = parse();
  const { dtype } = await readManifest(args.export);
  const serve = ['serve', '--model', args.export, '--device', args.device, '--port', '0', '--max-batch', String(args.maxBatch), '--max-queue', '4096'];
  let server: ServerProcess;
  try {
    server = await startServerProcess([MDLM_CLI, ...serve]);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
    return;
  }
  try {
    const [model] = ModelList.parse(await (await fetch(`${server.url}/v1/models`)).json()).data;
    // stop_at_eos off: every request generates exactly max_tokens, so tokens/s is requests/s × max_tokens.
    const body = JSON.stringify({ model: model?.id, prompt: 'The', max_tokens: args.maxTokens, steps: args.steps, stop_at_eos: false, seed: 1 });
    for (const connections of args.concurrency) {
      const before = await batchRows(server.url);
      const result = await autocannon({ url: `${server.url}/v1/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: args.duration });
      const after = await batchRows(server.url);
      const line = {
        kind: 'http',
        device: args.device,
        dtype,
        endpoint: '/v1/completions',
        maxTokens: args.maxTokens,
        steps: args.steps,
        concurrency: connections,
        durationS: args.duration,
        completed: result.requests.total,
        requestsPerSecond: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        rowsPerPass: (after.sum - before.sum) / Math.max(1, after.count - before.count),
      };
      appendFileSync(args.json, `${JSON.stringify(line)}\n`);
      console.error(`c ${connections}: ${line.requestsPerSecond.toFixed(2)} req/s, p50 ${line.p50Ms} ms, p99 ${line.p99Ms} ms, ${line.rowsPerPass.toFixed(1)} rows/pass`);
    }
  } finally {
    await server.stop();
  }
}

await main();
