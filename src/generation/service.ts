import { ErrorCodes, MdlmError, fieldError, isMdlmError } from '../errors.js';
import { type GenerativeManifest, type ItemScorer, type ServedModel, type ServingFamily, readManifest, servingFamilyOf } from '../families/index.js';
import { SeededRandom } from '../random.js';
import { type Device, type ExecutionProvider, ForwardRuntime, type ProviderAttempt, type ProviderOptions, type RuntimeStartup } from '../runtime/index.js';
import type { StepEvent } from '../sampling/index.js';
import { type PassReport, Scheduler, type SchedulerOptions } from '../scheduler/index.js';
import { type ItemScore, type ScoreWindow, drawTimes } from '../scoring/index.js';
import { type DecodeOptions, MdlmTokenizer } from '../tokenizer/index.js';
import { EngineCore } from './engine-core.js';
import { type SpanText, type TextSpan, spanText } from './output-text.js';
import { type PreparedScore, type ScoreRequest, prepareScore } from './prepare-score.js';
import { type GenerateRequest, type PreparedGeneration, encodeNaming, framingOf, prepareGeneration } from './prepare.js';

export interface ServiceOptions {
  exportDir: string;
  device: Device;
  providerOptions: ProviderOptions;
  workers: number;
  intraOpThreads?: number;
  scheduler: SchedulerOptions;
}

export interface GeneratedSample {
  /** The whole output: prompt, generated tokens and suffix. */
  tokenIds: number[];
  /** The model's log-probability of each token when it was drawn (NaN for fixed tokens). */
  logprobs: Float32Array;
  /** The most likely alternatives at each position when its token was drawn, topWidth per position. */
  topTokens: Int32Array;
  topLogprobs: Float32Array;
  topWidth: number;
  forwardPasses: number;
}

export interface GenerationStats {
  /** Reverse-process steps per sample (T per round, over all rounds). */
  steps: number;
  forwardPasses: number;
  wallMs: number;
  queuedMs: number;
}

export interface GenerateResult {
  samples: GeneratedSample[];
  seed: number;
  stats: GenerationStats;
}

export interface ScoredItem extends ItemScore {
  /** The ids scored, in order (what tokenNll is about). */
  tokenIds: number[];
}

export interface ScoreResult {
  items: ScoredItem[];
  seed: number;
  stats: Omit<GenerationStats, 'steps'>;
}

/** What a stream needs before the first step: the output as it starts (prompt, masks, suffix). */
export interface GenerationStart {
  seed: number;
  initialTokenIds: number[];
}

export interface GenerateHooks {
  onStart?: (start: GenerationStart) => void;
  onStep?: (sample: number, event: StepEvent) => void;
  signal?: AbortSignal;
}

/** The loaded model as clients see it. */
export interface ModelInfo {
  modelLength: number;
  vocabSize: number;
  timeConditioned: boolean;
  /** What /v1/models reports of the family (subs: MDLM, sedd: SEDD, ar: the AR baseline): which samplers and likelihoods apply. */
  parameterization: string;
  maskId: number;
  eosId: number | undefined;
  /** The token framing puts before a prompt or a scored text, when the tokenizer has one. */
  bosId: number | undefined;
  /** When the export was made (ISO 8601). */
  createdAt: string;
}

export interface TokenizerInfo {
  tokenizerClass: string | undefined;
  specialTokens: MdlmTokenizer['specialTokens'];
  maskId: number;
  vocabSize: number;
}

/** Opening a service, in ms: `openedAtMs` on this thread's clock (since the process started), the rest durations from then. */
export interface ServiceStartup {
  openedAtMs: number;
  tokenizerMs: number;
  /** Until the first worker was ready. */
  runtimeMs: number;
  worker: RuntimeStartup | undefined;
}

export interface ServiceStatus {
  readyWorkers: number;
  provider: ExecutionProvider;
  /** The providers passed over at start-up, with why. */
  unavailable: ProviderAttempt[];
  activeSequences: number;
  queueDepth: number;
  /** Sequences that may be admitted at once (--max-queue): beyond it requests are refused as overloaded. */
  queueCapacity: number;
  /** Requests admitted and not yet in a forward pass. */
  waitingRequests: number;
  /** Requests that have been in a forward pass and are not finished. */
  runningRequests: number;
  /** Set while no inference worker can run: why, and when the next restart is due. */
  workersDown: string | undefined;
}

/** A worker became ready (at start or after a restart), or could not be started and is retried later. */
export type WorkerEvent = { type: 'ready'; worker: number } | { type: 'failed'; worker: number; reason: string; retryInMs: number };

/**
 * A loaded model ready to generate: the tokenizer, the inference workers, the scheduler and
 * the loop between them, behind one façade. Callers prepare a request (encode, fill defaults,
 * lay out the canvas), check it against their own limits, and run it.
 */
export class GenerationService {
  readonly model: ModelInfo;

  private constructor(
    private readonly tokenizer: MdlmTokenizer,
    private readonly runtime: ForwardRuntime,
    private readonly scheduler: Scheduler,
    private readonly engine: EngineCore,
    private readonly facts: ServedModel,
    /** The model's family: its samplers, scoring methods and what it refuses. */
    readonly family: ServingFamily,
    manifest: GenerativeManifest,
    /** Where opening the service went (the tokenizer and the worker start side by side). */
    readonly startup: ServiceStartup,
  ) {
    const { maskId, modelLength, vocabSize, timeConditioned } = facts;
    const { parameterization } = family.serving.reported;
    const { eosId, bosId } = tokenizer;
    this.model = { modelLength, vocabSize, timeConditioned, parameterization, maskId, eosId, bosId, createdAt: manifest.createdAt };
  }

  static async open(options: ServiceOptions): Promise<GenerationService> {
    const manifest = await readManifest(options.exportDir);
    if (manifest.head !== 'positions') {
      throw new MdlmError(ErrorCodes.invalidArgument, `${options.exportDir} is a ${manifest.head}-head export; serving needs the positions head (mdlm export --head positions)`);
    }
    if (!manifest.tokenizer) {
      throw new MdlmError(ErrorCodes.tokenizerError, `${options.exportDir} has no tokenizer; export it with --tokenizer or load it by hub id`);
    }
    const opened = performance.now();
    // The worker reads the weights and builds its session on its own thread meanwhile.
    const starting = ForwardRuntime.start({
      model: { dir: options.exportDir, files: manifest.files, dtype: manifest.dtype },
      device: options.device,
      providerOptions: options.providerOptions,
      workers: options.workers,
      intraOpThreads: options.intraOpThreads,
    });
    let tokenizerMs = 0;
    const family = servingFamilyOf(manifest);
    const facts = family.serving.model(manifest);
    const loading = MdlmTokenizer.fromFiles(options.exportDir).then((tokenizer) => {
      checkTokenizerFits(tokenizer, facts, options.exportDir);
      tokenizerMs = performance.now() - opened;
      return tokenizer;
    });
    // Both awaited at once: a worker that fails before the tokenizer is loaded is not left unhandled meanwhile.
    const [loaded, started] = await Promise.allSettled([loading, starting]);
    if (loaded.status === 'rejected') {
      if (started.status === 'fulfilled') await started.value.close();
      throw loaded.reason;
    }
    if (started.status === 'rejected') throw started.reason;
    const [tokenizer, runtime] = [loaded.value, started.value];
    const startup: ServiceStartup = { openedAtMs: opened, tokenizerMs, runtimeMs: performance.now() - opened, worker: runtime.firstStartup };
    const scheduler = new Scheduler(options.scheduler);
    return new GenerationService(tokenizer, runtime, scheduler, new EngineCore(scheduler, runtime), facts, family, manifest, startup);
  }

  /** Encodes the text, fills in the defaults and lays out the canvas, once; throws errors that name the field. */
  prepare(request: GenerateRequest): PreparedGeneration {
    return prepareGeneration(request, this.tokenizer, this.facts);
  }

  async generate(prepared: PreparedGeneration, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const { generation } = this.family.serving;
    const samplers = SeededRandom.streams(prepared.seed, prepared.numSamples).map((random, sample) =>
      generation.sample(prepared.sampling, this.facts, random, (event) => hooks.onStep?.(sample, event)),
    );
    const job = this.engine.submit(samplers, hooks.signal);
    hooks.onStart?.({ seed: prepared.seed, initialTokenIds: Array.from(prepared.sampling.initial) });
    const stats = await job.done;
    return {
      samples: samplers.map((sampler) => ({
        tokenIds: Array.from(sampler.canvas),
        logprobs: sampler.logprobs,
        topTokens: sampler.topTokens,
        topLogprobs: sampler.topLogprobs,
        topWidth: sampler.topWidth,
        forwardPasses: sampler.forwardPasses,
      })),
      seed: prepared.seed,
      stats: { ...stats, steps: prepared.sampling.steps * prepared.layout.rounds },
    };
  }

  /** Encodes, frames and lays out what is to be scored; throws errors that name the field. */
  prepareScore(request: ScoreRequest): PreparedScore {
    return prepareScore(request, this.tokenizer, this.facts);
  }

  /** Likelihood estimates of every item, their rows batched with everything else running. */
  async score(prepared: PreparedScore, hooks: Pick<GenerateHooks, 'signal'> = {}): Promise<ScoreResult> {
    const streams = SeededRandom.streams(prepared.seed, prepared.items.length);
    const times = prepared.method === 'elbo' ? groupTimes(prepared, streams) : [];
    const { scoring } = this.family.serving;
    const scorers: ItemScorer[] = prepared.items.map((window, index) =>
      scoring.scorer(prepared.method, { window, times: times[index] as Float64Array, random: streams[index] as SeededRandom, model: this.facts }),
    );
    const stats = await this.engine.submit(scorers, hooks.signal).done;
    return {
      items: scorers.map((scorer, index) => ({ ...scorer.result(), tokenIds: scoredIds(prepared.items[index] as ScoreWindow) })),
      seed: prepared.seed,
      stats,
    };
  }

  /** The text of part of an output, decoded once, cut at the first end-of-text token when asked. */
  text(tokenIds: readonly number[], span: TextSpan): SpanText {
    return spanText(this.tokenizer, tokenIds, span);
  }

  decode(tokenIds: readonly number[], options: DecodeOptions = {}): string {
    return this.tokenizer.decode(tokenIds, options);
  }

  /** Each id's text decoded alone, and its character offset in the text of them all. */
  pieces(tokenIds: readonly number[]): { pieces: string[]; offsets: number[] } {
    return this.tokenizer.pieces(tokenIds);
  }

  /** Text of token ids; ids outside the vocabulary are refused naming `param`. */
  detokenize(tokenIds: readonly number[], param = 'tokens'): string {
    try {
      return this.tokenizer.decode(tokenIds);
    } catch (error) {
      throw isMdlmError(error) ? fieldError(error.code, param, `${param}: ${error.message}`) : error;
    }
  }

  /** Text as ids, after the tokenizer's BOS when framing applies, exactly as a prompt is fed. */
  tokenize(text: string, addSpecialTokens: boolean): number[] {
    const ids = encodeNaming(this.tokenizer, text, 'prompt');
    const { bos } = framingOf(this.tokenizer, addSpecialTokens);
    return bos === undefined ? ids : [bos, ...ids];
  }

  get tokenizerInfo(): TokenizerInfo {
    const { tokenizer } = this;
    return { tokenizerClass: tokenizer.tokenizerClass, specialTokens: tokenizer.specialTokens, maskId: tokenizer.maskId, vocabSize: this.model.vocabSize };
  }

  status(): ServiceStatus {
    return {
      readyWorkers: this.runtime.readyWorkers,
      provider: this.runtime.provider,
      unavailable: this.runtime.unavailable,
      activeSequences: this.scheduler.activeSequences,
      queueDepth: this.scheduler.queueDepth,
      queueCapacity: this.scheduler.capacity,
      waitingRequests: this.scheduler.waitingJobs,
      runningRequests: this.scheduler.runningJobs,
      workersDown: this.engine.unavailableReason,
    };
  }

  onWorkerEvent(listener: (event: WorkerEvent) => void): () => void {
    const ready = (worker: number) => listener({ type: 'ready', worker });
    const failed = (worker: number, reason: string, retryInMs: number) => listener({ type: 'failed', worker, reason, retryInMs });
    this.runtime.on('ready', ready);
    this.runtime.on('failed', failed);
    return () => {
      this.runtime.off('ready', ready);
      this.runtime.off('failed', failed);
    };
  }

  onPass(listener: (report: PassReport) => void): () => void {
    this.engine.on('pass', listener);
    return () => this.engine.off('pass', listener);
  }

  /** Stops admitting work; running requests carry on. */
  stopAccepting(): void {
    this.scheduler.stopAccepting();
  }

  /** Resolves when no request is in progress. */
  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  cancelAll(reason: MdlmError): void {
    this.scheduler.cancelAll(reason);
  }

  /** Replaces inference worker `index` as if it had crashed: its in-flight pass fails with worker_crashed. */
  restartWorker(index: number): Promise<void> {
    return this.runtime.recycleWorker(index);
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}

/** Each item's times: a group's stratified draws dealt out to its items in turn, so each item's draws spread over t. */
function groupTimes(prepared: PreparedScore, streams: SeededRandom[]): Float64Array[] {
  const times: Float64Array[] = [];
  for (let first = 0; first < prepared.items.length; first += prepared.antitheticGroup) {
    const members = Math.min(prepared.antitheticGroup, prepared.items.length - first);
    const pooled = drawTimes(members * prepared.mcSamples, streams[first] as SeededRandom, prepared.antithetic);
    for (let member = 0; member < members; member++) times.push(pooled.filter((_, draw) => draw % members === member));
  }
  return times;
}

function scoredIds(window: ScoreWindow): number[] {
  return Array.from(window.tokens.subarray(window.start, window.end));
}

/** A tokenizer with ids past the embedding table would fail every forward pass: refuse it up front. */
function checkTokenizerFits(tokenizer: MdlmTokenizer, model: ServedModel, exportDir: string): void {
  if (tokenizer.vocabSize > model.vocabSize || tokenizer.maskId !== model.maskId) {
    throw new MdlmError(
      ErrorCodes.tokenizerError,
      `${exportDir}: the tokenizer (${tokenizer.vocabSize} tokens, mask id ${tokenizer.maskId}) does not fit the model (vocab_size ${model.vocabSize}, mask id ${model.maskId})`,
    );
  }
}
