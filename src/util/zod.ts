import type { z } from 'zod';

/** A zod error as one line naming each field at fault: `field.path: message; ...`. */
export function describeZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
