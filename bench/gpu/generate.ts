/**
 * One timed generation through the server's own path (GenerationService: tokenizer, worker
 * thread, continuous-batching scheduler, positions head) on an explicit provider, for run.sh.
 * Appends one JSON line to RESULTS; a provider that cannot start is an `error [code]` line on
 * stderr and exit status 1 (run.sh records it as skipped).
 *
 *   node bench/gpu/generate.js EXPORT_DIR DEVICE STEPS SAMPLES RESULTS
 *
 * Samples run one after another at batch size 1, as in the seed's wall-clock table.
 */
import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { isMdlmError } from '../../src/errors.js';
import { readManifest } from '../../src/families/index.js';
import { GenerationService } from '../../src/generation/index.js';
import { DEFAULT_BATCH_ENTRIES } from '../../src/scheduler/index.js';
import { DEVICES, ProviderOptionsSchema, describeProviderChoice } from '../../src/runtime/providers.js';

const Args = z.tuple([z.string(), z.enum(DEVICES).exclude(['auto']), z.coerce.number().int().positive(), z.coerce.number().int().positive(), z.string()]);

async function main(): Promise<void> {
  const [exportDir, device, steps, samples, results] = Args.parse(process.argv.slice(2));
  const { dtype } = await readManifest(exportDir);
  const record = (line: object) => appendFileSync(results, `${JSON.stringify(line)}\n`);
  let service: GenerationService;
  try {
    service = await GenerationService.open({
      exportDir,
      device,
      providerOptions: ProviderOptionsSchema.parse({}),
      workers: 1,
      scheduler: { maxBatch: 1, maxBatchEntries: DEFAULT_BATCH_ENTRIES, maxQueue: samples, batchWaitMs: 0 },
    });
  } catch (error) {
    if (!isMdlmError(error)) throw error;
    console.error(`error [${error.code}]: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  try {
    const { provider, unavailable } = service.status();
    console.error(describeProviderChoice(provider, unavailable));
    const length = service.model.modelLength;
    let wallMs = 0;
    let forwardPasses = 0;
    for (let seed = 1; seed <= samples; seed++) {
      const { stats } = await service.generate(service.prepare({ length, steps, sampler: 'ddpm_cache', numSamples: 1, seed }));
      wallMs += stats.wallMs;
      forwardPasses += stats.forwardPasses;
    }
    record({ kind: 'generate', device, dtype, steps, length, samples, wallMs, forwardPasses });
    console.error(`${samples} sample(s), T ${steps}: ${(wallMs / 1000).toFixed(2)} s, ${forwardPasses} forward passes`);
  } finally {
    await service.close();
  }
}

await main();
