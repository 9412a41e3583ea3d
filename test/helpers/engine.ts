import { after } from 'node:test';
import { type ServedModel as ModelFacts, readManifest, servedModelOf as modelFacts } from '../../src/families/index.js';
import { EngineCore } from '../../src/generation/index.js';
import { SeededRandom } from '../../src/random.js';
import { ForwardRuntime, ProviderOptionsSchema } from '../../src/runtime/index.js';
import { REMDM_DEFAULTS, type SamplerName, type SemiArParams, SequenceSampler, type StepEvent, initialCanvas, isRemasking, layoutCanvas } from '../../src/sampling/index.js';
import { type JobStats, type PassReport, Scheduler, type SchedulerOptions } from '../../src/scheduler/index.js';

/** One sampling request in tokens, with the engine's defaults for what it leaves out. */
export interface SampleRequest {
  length: number;
  steps: number;
  sampler?: SamplerName;
  seed: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  eps?: number;
  prefix?: number[];
  suffix?: number[];
  semiAr?: SemiArParams;
  /** The ReMDM samplers' parameters; the paper's defaults for what is left out. */
  eta?: number;
  tOn?: number;
  tOff?: number;
  alphaOn?: number;
}

export interface SampleRun {
  samplers: SequenceSampler[];
  stats: JobStats;
}

export interface TestEngine {
  runtime: ForwardRuntime;
  scheduler: Scheduler;
  engine: EngineCore;
  facts: ModelFacts;
  /** Every pass report from now on. */
  passes: PassReport[];
  sample(request: SampleRequest, numSamples: number, options?: { signal?: AbortSignal; onStep?: (sample: number, event: StepEvent) => void }): Promise<SampleRun>;
}

/** The real runtime (worker threads, CPU provider), scheduler and engine loop over an exported positions head. */
export async function startEngine(exportDir: string, options: Partial<SchedulerOptions> & { workers?: number } = {}): Promise<TestEngine> {
  const manifest = await readManifest(exportDir);
  const runtime = await ForwardRuntime.start({
    model: { dir: exportDir, files: manifest.files, dtype: manifest.dtype },
    device: 'cpu',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: options.workers ?? 1,
  });
  after(() => runtime.close());
  const facts = modelFacts(manifest);
  const scheduler = new Scheduler({
    maxBatch: options.maxBatch ?? 64,
    maxBatchEntries: options.maxBatchEntries ?? 4096,
    maxQueue: options.maxQueue ?? 10_000,
    batchWaitMs: options.batchWaitMs ?? 0,
  });
  const engine = new EngineCore(scheduler, runtime);
  const passes: PassReport[] = [];
  engine.on('pass', (report) => passes.push(report));
  return {
    runtime,
    scheduler,
    engine,
    facts,
    passes,
    async sample(request, numSamples, { signal, onStep } = {}) {
      const samplers = samplersFor(request, numSamples, facts, onStep);
      const stats = await engine.submit(samplers, signal).done;
      return { samplers, stats };
    },
  };
}

export function samplersFor(request: SampleRequest, numSamples: number, facts: ModelFacts, onStep?: (sample: number, event: StepEvent) => void): SequenceSampler[] {
  const head = request.prefix ?? [];
  const tail = request.suffix ?? [];
  const layout = layoutCanvas({ head, tail, windowLength: request.length, semiAr: request.semiAr }, facts.modelLength);
  const sampler = request.sampler ?? 'ddpm_cache';
  const params = {
    steps: request.steps,
    sampler,
    temperature: request.temperature ?? 1,
    topP: request.topP ?? 1,
    topK: request.topK ?? 0,
    eps: request.eps,
    remask: isRemasking(sampler)
      ? { eta: request.eta ?? REMDM_DEFAULTS.eta[sampler], tOn: request.tOn ?? REMDM_DEFAULTS.tOn, tOff: request.tOff ?? REMDM_DEFAULTS.tOff, alphaOn: request.alphaOn ?? REMDM_DEFAULTS.alphaOn }
      : undefined,
    layout,
    initial: initialCanvas(layout, head, tail, facts.maskId),
  };
  return SeededRandom.streams(request.seed, numSamples).map((random, sample) => new SequenceSampler(params, facts, random, (event) => onStep?.(sample, event)));
}
