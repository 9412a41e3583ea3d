import { z } from 'zod';
import { describeZodIssues } from '../util/zod.js';
import { ErrorCodes, MdlmError } from '../errors.js';

/** Flags arrive from commander as strings; these coerce and bound them. */
export const cliInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const cliNumber = (min: number, max: number) => z.coerce.number().min(min).max(max);

/** Validates parsed flags, naming the flag (`--seed`) in the message. */
export function parseFlags<T extends z.ZodType>(schema: T, raw: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const message = describeZodIssues(parsed.error).replace(/(^|; )([a-zA-Z]+)(?=[.:])/g, (_, sep: string, name: string) => `${sep}--${kebab(name)}`);
    throw new MdlmError(ErrorCodes.invalidArgument, message, { details: parsed.error.issues });
  }
  return parsed.data;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
