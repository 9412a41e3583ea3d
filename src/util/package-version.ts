import { readFileSync } from 'node:fs';
import { z } from 'zod';

const PackageSchema = z.object({ version: z.string() });

/** This package's version; src/util and dist/util are both two levels below the package root. */
export function packageVersion(): string {
  return PackageSchema.parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))).version;
}
