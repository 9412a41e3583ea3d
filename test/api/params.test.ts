/** The request-parameter tables: HTTP names and values back under the service's names, and the flags built from the same entries. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { z } from 'zod';
import { GENERATE_PARAMS, type RequestBounds, SAMPLING_PARAMS, generateFields, generateRequest } from '../../src/api/index.js';
import { flagShape, flagValues, groupsTogether, requestFromFlags, requestOptions } from '../../src/cli/request-flags.js';

const BOUNDS: RequestBounds = { modelLength: 32, limits: { maxSteps: 100, maxNumSamples: 4, maxStrides: 3 } };

test('the HTTP fields are the snake_case of the service names, and a body reads back under those names', () => {
  const names = Object.keys(generateFields(BOUNDS));
  assert.deepEqual(names.slice(0, 6), ['prompt', 'length', 'num_samples', 'stop_at_eos', 'suffix', 'steps']);
  assert.ok(names.includes('t_on') && names.includes('alpha_on') && names.includes('add_special_tokens') && names.includes('semi_ar'));
  const body = z.strictObject(generateFields(BOUNDS)).parse({ prompt: 'a', num_samples: 2, top_p: 0.5, t_on: 0.6, add_special_tokens: false, semi_ar: { stride_length: 4, num_strides: 1 }, stop_at_eos: true });
  assert.deepEqual(
    Object.fromEntries(Object.entries(generateRequest(body)).filter(([, value]) => value !== undefined)),
    { prompt: 'a', numSamples: 2, topP: 0.5, tOn: 0.6, addSpecialTokens: false, semiAr: { strideLength: 4, numStrides: 1 } },
  );
  assert.equal(z.strictObject(generateFields(BOUNDS)).safeParse({ steps: 101 }).success, false, 'bounded by the limits');
  assert.equal(z.strictObject(generateFields(BOUNDS)).safeParse({ semi_ar: { stride_length: 33, num_strides: 0 } }).success, false, "bounded by the model's length");
});

const TABLE = { ...GENERATE_PARAMS, ...SAMPLING_PARAMS };
const Flags = z.object(flagShape(TABLE, BOUNDS)).superRefine(groupsTogether(TABLE));

/** Parses `argv` as a command with the table's options would, then with its zod fields. */
function parse(argv: string[]): z.ZodSafeParseResult<z.output<typeof Flags>> {
  const command = new Command('t').exitOverride();
  for (const option of requestOptions(TABLE)) command.addOption(option);
  command.parse(argv, { from: 'user' });
  return Flags.safeParse(flagValues(TABLE, command.opts()));
}

test('each entry gives one flag (a group one per part), kebab-case unless it names its own', () => {
  const flags = requestOptions(TABLE).map((option) => option.flags);
  assert.deepEqual(flags.slice(0, 4), ['--prompt <text>', '--length <n>', '--num-samples <n>', '--suffix <text>']);
  assert.ok(flags.includes('--top-p <p>') && flags.includes('--no-special-tokens') && flags.includes('--stride-length <n>') && flags.includes('--num-strides <n>'));
  assert.equal(flags.length, Object.keys(TABLE).length + 1, 'semi_ar is two flags');
});

test('flag text is read by the fields’ own schemas: numbers as numbers, within the bounds; a group comes whole', () => {
  const parsed = parse(['--steps', '7', '--top-p', '0.5', '--sampler', 'ddpm', '--no-special-tokens', '--stride-length', '4', '--num-strides', '2']);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  const request = { ...requestFromFlags(GENERATE_PARAMS, parsed.data), ...requestFromFlags(SAMPLING_PARAMS, parsed.data) };
  assert.deepEqual(
    Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined)),
    { numSamples: 1, steps: 7, sampler: 'ddpm', temperature: 1, topP: 0.5, addSpecialTokens: false, semiAr: { strideLength: 4, numStrides: 2 } },
  );
  assert.equal(requestFromFlags(SAMPLING_PARAMS, parse([]).data ?? {}).semiAr, undefined, 'no group flag, no group');
  const refuse = (argv: string[]) => parse(argv).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  assert.deepEqual(refuse(['--steps', 'abc']), ['steps: Invalid input: expected number, received NaN']);
  assert.deepEqual(refuse(['--steps', '101']), ['steps: Too big: expected number to be <=100']);
  assert.match(refuse(['--sampler', 'fast'])?.join() ?? '', /^sampler: Invalid option: expected one of "ddpm"\|"ddpm_cache"/);
  assert.deepEqual(refuse(['--stride-length', '4']), ['strideLength: give both --stride-length and --num-strides, or neither']);
});
