import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PARITY_FIXTURES = ['tiny-uncond', 'awkward-cond', 'gpt2-mask-row'] as const;

export interface ParityCase {
  input_ids: number[][];
  sigma: number[] | null;
  logits: number[][][];
}

export function fixtureDir(name: string): string {
  return join(import.meta.dirname, '..', 'fixtures', 'parity', name);
}

/** Golden logits from test/reference/make_fixtures.py (numpy reference of spec §2). */
export function parityCases(name: string): ParityCase[] {
  return JSON.parse(readFileSync(join(fixtureDir(name), 'cases.json'), 'utf8')).cases as ParityCase[];
}
