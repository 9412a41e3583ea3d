import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { MANIFEST_FILE, readManifestJson } from '../model/index.js';
import { describeZodIssues } from '../util/zod.js';
import type { ModelFamily, ServedModel, ServingFamily } from './family.js';
import { type AnyExportManifest, type GenerativeManifest, describeTag, familyOfTag } from './registry.js';

const ManifestTagSchema = z.object({ architecture: z.string(), parameterization: z.string().optional() });

/** An export's manifest and its family: the tag says which family's schema reads the rest. */
async function readFamilyManifest(exportDir: string): Promise<{ manifest: AnyExportManifest; family: ModelFamily }> {
  const raw = await readManifestJson(exportDir);
  const unrecognised = (why: string) =>
    new MdlmError(ErrorCodes.staleExport, `${join(exportDir, MANIFEST_FILE)}: unrecognised manifest (${why}); export the model again`);
  const tag = ManifestTagSchema.safeParse(raw);
  if (!tag.success) throw unrecognised(describeZodIssues(tag.error));
  const family = familyOfTag(tag.data);
  if (family === undefined) throw unrecognised(`no model family is recorded as ${describeTag(tag.data)}`);
  const parsed = family.manifestSchema.safeParse(raw);
  if (!parsed.success) throw unrecognised(describeZodIssues(parsed.error));
  // The family's own schema has just read it.
  return { manifest: parsed.data as AnyExportManifest, family };
}

/** The manifest of an export of any family. */
export async function readAnyManifest(exportDir: string): Promise<AnyExportManifest> {
  return (await readFamilyManifest(exportDir)).manifest;
}

/** The manifest of an export the service generates with; the export of a family that is not served is refused, saying what it is for. */
export async function readManifest(exportDir: string): Promise<GenerativeManifest> {
  const { manifest, family } = await readFamilyManifest(exportDir);
  if (family.serving === undefined) throw new MdlmError(ErrorCodes.invalidArgument, `${exportDir} is a ${family.name} export: ${family.notServed}`);
  return manifest as GenerativeManifest;
}

/** The family of a generative export. */
export function servingFamilyOf(manifest: GenerativeManifest): ServingFamily {
  return familyOfTag(manifest) as ServingFamily;
}

/** The facts a generative export is served with. */
export function servedModelOf(manifest: GenerativeManifest): ServedModel {
  return servingFamilyOf(manifest).serving.model(manifest);
}
