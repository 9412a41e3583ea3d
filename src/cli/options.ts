import type { Command } from 'commander';
import { z } from 'zod';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError } from '../errors.js';

/** Flags arrive from commander as strings; these coerce and bound them. */
export const cliInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const cliNumber = (min: number, max: number) => z.coerce.number().min(min).max(max);

/**
 * Validates parsed flags, naming the flag (`--seed`) in the message, or the environment
 * variable when that is where the value came from (`MDLM_MAX_BATCH (--max-batch)`).
 */
export function parseFlags<T extends z.ZodType>(schema: T, raw: Record<string, unknown>, command?: Command): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const message = describeZodIssues(parsed.error).replace(/(^|; )([a-zA-Z]+)(?=[.:])/g, (_, sep: string, name: string) => `${sep}${flagSource(name, command)}`);
    throw new MdlmError(ErrorCodes.invalidArgument, message, { details: parsed.error.issues });
  }
  return parsed.data;
}

function flagSource(name: string, command: Command | undefined): string {
  const flag = `--${kebab(name)}`;
  const option = command?.options.find((candidate) => candidate.attributeName() === name);
  return option?.envVar !== undefined && command?.getOptionValueSource(name) === 'env' ? `${option.envVar} (${flag})` : flag;
}

/** The environment variable a one-off command's flag reads: MDLM_ and its name. */
export function envVarOf(flag: string): string {
  return `MDLM_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** A camelCase field as its --flag-name. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
