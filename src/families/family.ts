/**
 * One model family behind one interface: how its checkpoints are recognised and exported, the
 * manifest its exports carry, and what serving does with it. The registry (registry.ts) holds
 * every family in one table; everything outside src/families looks a family up there instead
 * of asking which kind of model it has.
 *
 * Nothing here assumes that a family has a mask token, that a sample's tokens change only
 * from the mask to a token, or that a pass is one plain window: the hooks that decide those
 * (procedure, sample, scorer) belong to the family, and the shared machinery they use
 * (sampling's SequenceSampler, scoring's estimators) is one way to meet them, not the only one.
 */
import type { z } from 'zod';
import type { LightningBackbone, LightningCheckpoint, LightningParameterization, MdlmConfig } from '../checkpoint/index.js';
import type { ExportManifestBase, ExportNetwork, ExportOptions } from '../model/index.js';
import type { SeededRandom } from '../random.js';
import type { CanvasLayout, RoundFactory, SampleSequence, SamplingParams, SemiArParams, StepEvent } from '../sampling/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { ItemScore, ScoreMethod, ScoreWindow } from '../scoring/index.js';

/**
 * How manifest.json records a family: the fields exports have always carried (`architecture`,
 * and for the seed's networks `parameterization`). Mapped to and from the family in one place
 * (familyOfTag in registry.ts); in code the kind is the family's name.
 */
export interface ManifestTag {
  readonly architecture: string;
  readonly parameterization?: string;
}

/** What serving knows of a loaded model: its family, and the facts requests are prepared against. */
export interface ServedModel {
  /** The family's name, by which its procedures are looked up (servingFamilyNamed). */
  family: string;
  /** The token fixed input may not hold: only a sampler places it. */
  maskId: number;
  modelLength: number;
  vocabSize: number;
  /** The network reads sigma(t). */
  timeConditioned: boolean;
}

/** A Hugging Face checkpoint directory of the family (config.json + model.safetensors). */
export interface DirectoryCheckpoints {
  /** config.json's model_type. */
  readonly modelType: string;
  /** The tokenizer files an export needs beside the checkpoint; a checkpoint without them takes tokenizerRepo's. */
  readonly tokenizerFiles: readonly string[];
  /** The hub repository whose tokenizer a checkpoint without its own takes, if any. */
  tokenizerRepo(dir: string): Promise<string | undefined>;
  open(dir: string, options: ExportOptions): Promise<ExportNetwork>;
}

/** What a seed .ckpt says of its network (hyper_parameters.config), and where it is. */
export interface LightningKind {
  path: string;
  backbone: LightningBackbone;
  parameterization: LightningParameterization;
  config: MdlmConfig;
}

/** A family's answer about a .ckpt: it is the family's to serve, or the family's but refused (why), or not the family's (undefined). */
export type LightningClaim = { served: true } | { refused: string } | undefined;

/** The seed's Lightning .ckpt files of the family. */
export interface LightningCheckpoints {
  claim(kind: LightningKind): LightningClaim;
  open(checkpoint: LightningCheckpoint, options: ExportOptions): Promise<ExportNetwork>;
}

/**
 * The fields of a generation request that decide how it is sampled: what a family accepts,
 * refuses or fills in. The service's GenerateRequest has them all.
 */
export interface SamplingRequest {
  sampler?: string;
  steps?: number;
  eta?: number;
  tOn?: number;
  tOff?: number;
  alphaOn?: number;
  suffix?: string | readonly number[];
  semiAr?: SemiArParams;
  /** A completion's max_tokens. */
  newTokens?: number;
}

/** The canvas a request was laid out on. */
export interface PreparedCanvas {
  layout: CanvasLayout;
  /** The fixed start of the output (framing included). */
  head: readonly number[];
}

/** How a family draws samples for one request: the sampler, and what the family fixes about it. */
export interface SamplingProcedure {
  /** The sampler's name, as reported. */
  sampler: string;
  /** The family's own rounds; absent: the shared table's for `sampler` (sampling/rounds.ts). */
  rounds?: RoundFactory;
  /** Steps the family fixes (left to right: one per token); absent: the request's, or the default. */
  steps?: number;
  /** The time grid's end the family fixes; absent: the request's, or the default. */
  eps?: number;
  /** See SamplingParams.entryOffset. */
  entryOffset?: number;
}

export interface GenerationProcedures {
  /** The samplers a request may name; empty for a family whose one procedure a request does not choose (the AR baseline). */
  readonly samplers: readonly string[];
  /** What a request that names none gets. */
  readonly defaultSampler?: string;
  /** The fixed start of the output: the prompt, framed by BOS when framing gives one. */
  head(prompt: readonly number[], bos: number | undefined): number[];
  /** Refuses, naming the field, what a request asks that the family cannot do; called before the canvas is laid out. */
  refuse?(request: SamplingRequest): void;
  /** How samples are drawn on this canvas; refuses (naming the field) a sampler or layout the family cannot run. */
  procedure(request: SamplingRequest, canvas: PreparedCanvas, model: ServedModel): SamplingProcedure;
  /** One sample as a sequence the scheduler runs: its rows, and the output once finished. */
  sample(params: SamplingParams, model: ServedModel, random: SeededRandom, onStep: (event: StepEvent) => void): SampleSequence;
}

/** One item to score, as the service hands it to the family's estimator. */
export interface ItemToScore {
  window: ScoreWindow;
  /** elbo: the Monte Carlo draws' times. */
  times: Float64Array;
  /** The item's own stream. */
  random: SeededRandom;
  model: ServedModel;
}

/** An estimator of one item: a sequence of rows, and the score once they are applied. */
export type ItemScorer = Sequence & { result(): ItemScore };

export interface ScoringProcedures {
  /** The methods it scores with; `refusal` may still refuse one for a model (ar for a time-conditioned one). */
  readonly methods: readonly ScoreMethod[];
  readonly defaultMethod: ScoreMethod;
  /** Why the model cannot score with `method`, or undefined when it can. */
  refusal(method: ScoreMethod, model: ServedModel): string | undefined;
  /** Tokens an item's context must hold before its first scored token, and what to say when it holds fewer. */
  readonly leadingContext?: { tokens: number; why: string };
  scorer(method: ScoreMethod, item: ItemToScore): ItemScorer;
}

/** What serving does with a family's exports. */
export interface ServingProcedures<Manifest> {
  /** The loaded model's facts, from its manifest. */
  model(manifest: Manifest): ServedModel;
  readonly generation: GenerationProcedures;
  readonly scoring: ScoringProcedures;
  /** What /v1/models reports of it: its parameterization, and what that allows, in a few words. */
  readonly reported: { parameterization: string; summary: string };
}

export interface ModelFamily<Manifest extends ExportManifestBase = ExportManifestBase> {
  /** The one name of the kind in code: mdlm, sedd, ar, gpt2. */
  readonly name: string;
  readonly tag: ManifestTag;
  /** Its manifest variant: ManifestBaseSchema and its own fields. */
  readonly manifestSchema: z.ZodType<Manifest>;
  readonly directory?: DirectoryCheckpoints;
  readonly lightning?: LightningCheckpoints;
  /** Absent for a family that is not served (GPT-2 scores other models' samples); notServed says why. */
  readonly serving?: ServingProcedures<Manifest>;
  readonly notServed?: string;
  /** A causal LM that can score other models' samples (mdlm eval gen-ppl): GPT-2, the evaluation model, and the seed's AR baseline. */
  readonly sampleScoring?: SampleScoring<Manifest>;
}

/** What scoring samples with a causal LM needs of its export. */
export interface SampleScoring<Manifest> {
  /** Positions the model has embeddings for. */
  context(manifest: Manifest): number;
  /** The end-of-text id, which pads a batch's shorter windows (from the config, or from the tokenizer shipped in `exportDir`). */
  eosId(manifest: Manifest, exportDir: string): Promise<number>;
}

/** A family whose exports the service generates and scores with. */
export interface ServingFamily<Manifest extends ExportManifestBase = ExportManifestBase> extends ModelFamily<Manifest> {
  readonly serving: ServingProcedures<Manifest>;
}
