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

/** GPT-2 fixtures from test/reference/make_gpt2_fixtures.py: the two Hugging Face naming variants. */
export const GPT2_PARITY_FIXTURES = ['gpt2-bare', 'gpt2-prefixed'] as const;

export interface Gpt2Case {
  input_ids: number[][];
  logits: number[][][];
}

export function gpt2FixtureDir(name: string): string {
  return join(import.meta.dirname, '..', 'fixtures', 'gpt2-parity', name);
}

/** Golden logits of the numpy GPT-2 reference (spec §10). */
export function gpt2Cases(name: string): Gpt2Case[] {
  return JSON.parse(readFileSync(join(gpt2FixtureDir(name), 'cases.json'), 'utf8')).cases as Gpt2Case[];
}

/** Token rows and the seed's generative perplexity of them under gpt2-bare, computed by the reference. */
export interface GenPplFixture {
  eos: number;
  context: number;
  batch_size: number;
  rows: number[][];
  nll: number[];
  counted: number[];
  gen_ppl: number;
}

export function genPplFixture(): GenPplFixture {
  return JSON.parse(readFileSync(join(gpt2FixtureDir('gpt2-bare'), 'gen_ppl.json'), 'utf8')) as GenPplFixture;
}
