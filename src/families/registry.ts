/**
 * The model families, in one table, and every way of finding one: by name (what the code
 * calls the kind), by the tag a manifest records it with, by a checkpoint directory's
 * model_type, by what a seed .ckpt says of its network. As transformers.js maps a config's
 * model_type to its classes, and onnxruntime-genai's builder dispatches on it: a new family is
 * its own folder and one line here.
 */
import { z } from 'zod';
import { configPath, parseConfig, readConfigJson } from '../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { AR_FAMILY } from './ar/index.js';
import type { DirectoryCheckpoints, LightningCheckpoints, LightningKind, ManifestTag, ModelFamily, ServingFamily } from './family.js';
import { GPT2_FAMILY } from './gpt2/index.js';
import { MDLM_FAMILY } from './mdlm/index.js';
import { SEDD_FAMILY } from './sedd/index.js';

/** Every family. A seed .ckpt is offered to them in this order. */
export const FAMILIES = [MDLM_FAMILY, SEDD_FAMILY, AR_FAMILY, GPT2_FAMILY] as const;

type AnyFamily = (typeof FAMILIES)[number];
type ManifestOf<Family> = Family extends ModelFamily<infer Manifest> ? Manifest : never;

/** The manifest of an export of any family. */
export type AnyExportManifest = ManifestOf<AnyFamily>;
/** The manifest of an export the service generates and scores with. */
export type GenerativeManifest = ManifestOf<Extract<AnyFamily, { readonly serving: object }>>;

type DirectoryFamily = ModelFamily & { readonly directory: DirectoryCheckpoints };
type LightningFamily = ModelFamily & { readonly lightning: LightningCheckpoints };

const ALL: readonly ModelFamily[] = FAMILIES;
const isServing = (family: ModelFamily): family is ServingFamily => family.serving !== undefined;
const SERVING_FAMILIES = ALL.filter(isServing);
const DIRECTORY_FAMILIES = ALL.filter((family): family is DirectoryFamily => family.directory !== undefined);
const LIGHTNING_FAMILIES = ALL.filter((family): family is LightningFamily => family.lightning !== undefined);

const BY_NAME = new Map(ALL.map((family) => [family.name, family]));

function familyNamed(name: string): ModelFamily {
  const family = BY_NAME.get(name);
  if (family === undefined) throw new Error(`no model family is named ${name}`);
  return family;
}

/** A served model's family, whose procedures prepare, sample and score its requests. */
export function servingFamilyNamed(name: string): ServingFamily {
  const family = familyNamed(name);
  if (!isServing(family)) throw new Error(`the ${name} family is not served`);
  return family;
}

/** The one mapping between a family and the fields manifest.json records it by. */
function tagKey(tag: ManifestTag): string {
  return JSON.stringify([tag.architecture, tag.parameterization ?? null]);
}

const BY_TAG = new Map(ALL.map((family) => [tagKey(family.tag), family]));

/** The family a manifest records, or undefined for a tag no family has. */
export function familyOfTag(tag: ManifestTag): ModelFamily | undefined {
  return BY_TAG.get(tagKey(tag));
}

/** Describes a tag for messages: `architecture mdlm, parameterization sedd`. */
export function describeTag(tag: ManifestTag): string {
  return Object.entries(tag)
    .map(([field, value]) => `${field} ${String(value)}`)
    .join(', ');
}

/** The model_type of every family that reads Hugging Face checkpoint directories. */
const MODEL_TYPES = DIRECTORY_FAMILIES.map((family) => family.directory.modelType) as [string, ...string[]];

const ModelTypeSchema = z.looseObject({
  model_type: z.enum(MODEL_TYPES, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a supported model_type (supported: ${MODEL_TYPES.map((name) => `"${name}"`).join(', ')})`,
  }),
});

/** A checkpoint directory's config.json model_type, refused unless some family reads it. */
export async function checkpointModelType(checkpointDir: string): Promise<string> {
  return parseConfig(ModelTypeSchema, await readConfigJson(checkpointDir), configPath(checkpointDir)).model_type;
}

/** The family of a checkpoint directory, from its config.json's model_type. */
export async function familyOfCheckpointDir(checkpointDir: string): Promise<DirectoryFamily> {
  const modelType = await checkpointModelType(checkpointDir);
  return DIRECTORY_FAMILIES.find((family) => family.directory.modelType === modelType) as DirectoryFamily;
}

/** What the seed has that no family serves, and why. */
const SEED_ONLY: Partial<Record<string, string>> = { d3pm: "the seed's discrete-time variant" };

/**
 * The family of a seed .ckpt, from its backbone and parameterization: the first family that
 * claims it, or the refusal of the family that knows why it cannot be served.
 */
export function familyOfLightning(kind: LightningKind): LightningFamily {
  const { backbone, parameterization, path } = kind;
  const refuse = (why: string): MdlmError =>
    new MdlmError(ErrorCodes.unsupportedModel, `${path}: backbone ${backbone} with parameterization ${parameterization} ${why}`);
  for (const family of LIGHTNING_FAMILIES) {
    const claim = family.lightning.claim(kind);
    if (claim === undefined) continue;
    if ('refused' in claim) throw refuse(claim.refused);
    return family;
  }
  const served = LIGHTNING_FAMILIES.map((family) => family.tag.parameterization ?? family.name);
  const list = `${served.slice(0, -1).join(', ')} and ${served.at(-1)}`;
  throw refuse(`cannot be served: ${parameterization} is ${SEED_ONLY[parameterization] ?? 'not implemented here'}, and only ${list} are implemented`);
}

/** The family of a model a server reports with this parameterization (GET /v1/models). */
export function servingFamilyReportedAs(parameterization: string): ServingFamily {
  const family = SERVING_FAMILIES.find((candidate) => candidate.serving.reported.parameterization === parameterization);
  if (family === undefined) throw new MdlmError(ErrorCodes.unexpectedResponse, `the server reports a model of parameterization ${parameterization}, which this client does not know`);
  return family;
}

/** What /v1/models may report as a model's parameterization, and what each allows. */
export const REPORTED_PARAMETERIZATIONS = SERVING_FAMILIES.map((family) => family.serving.reported.parameterization) as [string, ...string[]];
const reportedSummaries = SERVING_FAMILIES.map(({ serving: { reported } }) => `${reported.parameterization}: ${reported.summary}`);
export const REPORTED_PARAMETERIZATIONS_SUMMARY = `${reportedSummaries.join('; ')}.`;
