import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ErrorCodes, MdlmError } from '../errors.js';
import { describeZodIssues } from '../util/zod.js';

/** One sample to evaluate: its text, its token ids (in the generator's vocabulary), or both. */
export interface SampleRecord {
  index: number;
  text?: string;
  tokenIds?: number[];
}

const SampleSchema = z
  .looseObject({
    index: z.number().int().nonnegative().optional(),
    text: z.string().optional(),
    token_ids: z.array(z.number().int().nonnegative()).optional(),
  })
  .refine((sample) => sample.text !== undefined || sample.token_ids !== undefined, { message: 'a sample needs text or token_ids' });

/** `mdlm generate --json`, i.e. the /v1/generate response. */
const GenerateOutputSchema = z.looseObject({ samples: z.array(SampleSchema).min(1, 'no samples') });

type ParsedSample = z.infer<typeof SampleSchema>;

/**
 * The samples of FILE: the JSON that `mdlm generate --json` prints (`{samples: [{index, text,
 * token_ids, forward_passes}], ...}`), or JSON Lines with `text` and/or `token_ids` per line.
 */
export async function readSamplesFile(path: string): Promise<SampleRecord[]> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (cause) {
    throw invalid(`${path}: cannot read the samples file (${(cause as Error).message})`, cause);
  }
  const whole = tryJson(content);
  if (isObjectWith(whole, 'samples')) return records(parseWith(GenerateOutputSchema, whole, path).samples);
  return records(parseJsonLines(content, path));
}

function parseJsonLines(content: string, path: string): ParsedSample[] {
  const samples: ParsedSample[] = [];
  content.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${path}:${index + 1}`;
    const value = tryJson(line);
    if (value === undefined) throw invalid(`${where}: not JSON; expected the output of mdlm generate --json, or one JSON object per line with text or token_ids`);
    samples.push(parseWith(SampleSchema, value, where));
  });
  if (samples.length === 0) throw invalid(`${path}: no samples`);
  return samples;
}

function records(samples: ParsedSample[]): SampleRecord[] {
  return samples.map((sample, position) => ({ index: sample.index ?? position, text: sample.text, tokenIds: sample.token_ids }));
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObjectWith(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && key in value;
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(`${where}: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}

function invalid(message: string, cause?: unknown): MdlmError {
  return new MdlmError(ErrorCodes.invalidSamples, message, { cause });
}
