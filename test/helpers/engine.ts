import { join } from 'node:path';
import { after } from 'node:test';
import { readManifest } from '../../src/model/manifest.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../../src/runtime/index.js';
import type { ModelFacts } from '../../src/sampling/index.js';
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/index.js';

export interface TestEngine {
  runtime: ForwardRuntime;
  scheduler: Scheduler;
  facts: ModelFacts;
}

/** The real runtime (worker threads, CPU provider) and scheduler over an exported sample head. */
export async function startEngine(exportDir: string, options: Partial<SchedulerOptions> & { workers?: number } = {}): Promise<TestEngine> {
  const manifest = await readManifest(exportDir);
  const runtime = await ForwardRuntime.start({
    modelPath: join(exportDir, manifest.files.model),
    device: 'cpu',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: options.workers ?? 1,
  });
  after(() => runtime.close());
  const facts = { maskId: manifest.maskIndex, modelLength: manifest.config.model_length, timeConditioned: manifest.config.time_conditioning };
  const scheduler = new Scheduler(runtime, facts, { maxBatch: options.maxBatch ?? 64, maxQueue: options.maxQueue ?? 10_000, batchWaitMs: options.batchWaitMs ?? 0 });
  return { runtime, scheduler, facts };
}
