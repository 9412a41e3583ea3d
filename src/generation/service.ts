import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCodes, MdlmError } from '../errors.js';
import { type ExportManifest, readManifest } from '../model/index.js';
import { type Device, ForwardRuntime, type ProviderOptions } from '../runtime/index.js';
import type { ModelFacts, SamplerName, SemiArParams, StepEvent } from '../sampling/index.js';
import { type JobStats, Scheduler, type SchedulerOptions } from '../scheduler/index.js';
import { MdlmTokenizer } from '../tokenizer/index.js';
import { GENERATION_DEFAULTS } from './defaults.js';

export interface ServiceOptions {
  exportDir: string;
  device: Device;
  providerOptions: ProviderOptions;
  workers: number;
  intraOpThreads?: number;
  scheduler: SchedulerOptions;
}

/** A request's fixed text as token ids: encoded once, by encodeInput, and reused by every check. */
export interface EncodedInput {
  /** Tokens the output starts with (the prompt). */
  prefix: number[];
  /** Tokens the output ends with. */
  suffix: number[];
}

export interface GenerateRequest {
  input: EncodedInput;
  /** Window length; default the model's length. */
  length?: number;
  steps?: number;
  sampler?: SamplerName;
  numSamples?: number;
  seed?: number;
  temperature?: number;
  semiAr?: SemiArParams;
  /** Cut each sample's text at the first end-of-text token after the prompt. */
  stopAtEos?: boolean;
}

export interface GeneratedSample {
  /** The whole output: prompt, generated tokens and suffix. */
  text: string;
  tokenIds: number[];
  forwardPasses: number;
}

export interface GenerateResult {
  samples: GeneratedSample[];
  seed: number;
  promptTokens: number;
  suffixTokens: number;
  stats: JobStats;
}

/** What a stream needs before the first step: the output as it starts (prompt, masks, suffix). */
export interface GenerationStart {
  seed: number;
  promptTokens: number;
  suffixTokens: number;
  initialTokenIds: number[];
}

export interface GenerateHooks {
  onStart?: (start: GenerationStart) => void;
  onStep?: (sample: number, event: StepEvent) => void;
  signal?: AbortSignal;
}

/**
 * A loaded model ready to generate: the tokenizer, the inference workers and the
 * continuous-batching scheduler, behind a text-level API.
 */
export class GenerationService {
  private constructor(
    readonly manifest: ExportManifest,
    readonly tokenizer: MdlmTokenizer,
    readonly runtime: ForwardRuntime,
    readonly scheduler: Scheduler,
    readonly facts: ModelFacts,
  ) {}

  static async open(options: ServiceOptions): Promise<GenerationService> {
    const manifest = await readManifest(options.exportDir);
    if (manifest.head !== 'sample') {
      throw new MdlmError(ErrorCodes.invalidArgument, `${options.exportDir} is a ${manifest.head}-head export; generation needs the sample head`);
    }
    if (!manifest.tokenizer) {
      throw new MdlmError(ErrorCodes.tokenizerError, `${options.exportDir} has no tokenizer; export it with --tokenizer or load it by hub id`);
    }
    const tokenizer = await MdlmTokenizer.fromFiles(options.exportDir);
    checkTokenizerFits(tokenizer, manifest, options.exportDir);
    const runtime = await ForwardRuntime.start({
      modelPath: join(options.exportDir, manifest.files.model),
      device: options.device,
      providerOptions: options.providerOptions,
      workers: options.workers,
      intraOpThreads: options.intraOpThreads,
    });
    const facts: ModelFacts = { maskId: manifest.maskIndex, modelLength: manifest.config.model_length, timeConditioned: manifest.config.time_conditioning };
    return new GenerationService(manifest, tokenizer, runtime, new Scheduler(runtime, facts, options.scheduler), facts);
  }

  async generate(request: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const { prefix, suffix } = request.input;
    const seed = request.seed ?? randomInt(2 ** 32);
    const params = {
      length: request.length ?? this.facts.modelLength,
      steps: request.steps ?? GENERATION_DEFAULTS.steps,
      sampler: request.sampler ?? GENERATION_DEFAULTS.sampler,
      temperature: request.temperature ?? GENERATION_DEFAULTS.temperature,
      semiAr: request.semiAr,
      prefix,
      suffix,
      seed,
    };
    const result = await this.scheduler.submit({
      params,
      numSamples: request.numSamples ?? GENERATION_DEFAULTS.numSamples,
      onAdmitted: (initial) => hooks.onStart?.({ seed, promptTokens: prefix.length, suffixTokens: suffix.length, initialTokenIds: Array.from(initial) }),
      onStep: hooks.onStep,
      signal: hooks.signal,
    });
    const samples = result.samples.map((sample) => {
      const tokenIds = Array.from(sample.tokens);
      return { text: this.decodeOutput(tokenIds, prefix.length, request.stopAtEos ?? false), tokenIds, forwardPasses: sample.forwardPasses };
    });
    return { samples, seed, promptTokens: prefix.length, suffixTokens: suffix.length, stats: result.stats };
  }

  /** Text of an output, optionally cut at the first end-of-text token after the prompt. */
  decodeOutput(tokenIds: readonly number[], promptTokens: number, stopAtEos: boolean): string {
    const eos = this.tokenizer.eosId;
    const cut = stopAtEos && eos !== undefined ? tokenIds.indexOf(eos, promptTokens) : -1;
    return this.tokenizer.decode(cut === -1 ? tokenIds : tokenIds.slice(0, cut));
  }

  /** The prompt and suffix as token ids, refusing text that spells out the mask token. */
  encodeInput(prompt: string | undefined, suffix: string | undefined): EncodedInput {
    return { prefix: this.encodeText(prompt), suffix: this.encodeText(suffix) };
  }

  private encodeText(text: string | undefined): number[] {
    if (text === undefined || text === '') return [];
    const ids = this.tokenizer.encode(text);
    if (ids.includes(this.facts.maskId)) {
      throw new MdlmError(ErrorCodes.invalidArgument, 'the prompt contains the mask token, which only the sampler may place');
    }
    return ids;
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}

/** A tokenizer with ids past the embedding table would fail every forward pass: refuse it up front. */
function checkTokenizerFits(tokenizer: MdlmTokenizer, manifest: ExportManifest, exportDir: string): void {
  if (tokenizer.vocabSize > manifest.config.vocab_size || tokenizer.maskId !== manifest.maskIndex) {
    throw new MdlmError(
      ErrorCodes.tokenizerError,
      `${exportDir}: the tokenizer (${tokenizer.vocabSize} tokens, mask id ${tokenizer.maskId}) does not fit the model (vocab_size ${manifest.config.vocab_size}, mask id ${manifest.maskIndex})`,
    );
  }
}
