import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { GENERATE_PARAMS, RESPONSE_PARAMS, type RequestBounds, SAMPLING_PARAMS, generateResponse } from '../../api/index.js';
import { GENERATION_DEFAULTS } from '../../generation/index.js';
import type { StepEvent } from '../../sampling/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions, openModelService } from '../model-service.js';
import { parseFlags } from '../options.js';
import { type ProgressReporter, progressBar } from '../progress.js';
import { flagShape, flagValues, groupsTogether, requestFromFlags, requestOptions } from '../request-flags.js';
import { reportStartupOnFirstPass } from '../startup-report.js';

/** Every parameter of a generate request, in the order --help lists them. */
const { prompt, length, numSamples } = GENERATE_PARAMS;
const { suffix, steps, sampler, seed, temperature, topP, topK, eta, tOn, tOff, alphaOn, addSpecialTokens, semiAr } = SAMPLING_PARAMS;
const REQUEST_FLAGS = {
  ...{ prompt, suffix, length, steps, sampler, numSamples, seed, temperature, topP, topK },
  ...{ eta, tOn, tOff, alphaOn, addSpecialTokens, semiAr, ...RESPONSE_PARAMS },
};

/** No server limits here: bounds that only catch typos (the model refuses what does not fit it). */
const CLI_BOUNDS: RequestBounds = { modelLength: 131_072, limits: { maxSteps: 1_000_000, maxNumSamples: 4096, maxStrides: 10_000 } };

const GenerateFlags = ModelFlags.extend({
  ...flagShape(REQUEST_FLAGS, CLI_BOUNDS),
  json: z.boolean().default(false),
  verbose: z.boolean().default(false),
}).superRefine(groupsTogether(REQUEST_FLAGS));

export function registerGenerate(program: Command): void {
  const description = 'Generate text once from a model: hub id, checkpoint directory or exported model directory';
  const command = addModelOptions(program.command('generate').description(description));
  for (const option of requestOptions(REQUEST_FLAGS)) command.addOption(option);
  command
    .option('--json', 'print exactly what POST /v1/generate answers, as JSON, instead of the text')
    .option('--verbose', 'print the execution provider chosen (and why others were passed over) and where start-up went (Node, imports, tokenizer, worker, session) once the first forward pass is done')
    .action(async (raw: Record<string, unknown>, self: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(GenerateFlags, { ...raw, ...flagValues(REQUEST_FLAGS, raw) }, self);
      const samples = flags.numSamples ?? GENERATION_DEFAULTS.numSamples;
      const { service, modelId } = await openModelService(flags, { maxBatch: Math.min(samples, 64), maxQueue: samples });
      if (flags.verbose) reportStartupOnFirstPass(service);
      try {
        const prepared = service.prepare({ ...requestFromFlags(GENERATE_PARAMS, flags), ...requestFromFlags(SAMPLING_PARAMS, flags) });
        const bar = progressBar('denoising', 'steps');
        const result = await service.generate(prepared, { onStep: stepProgress(bar, prepared.sampling.steps, samples) });
        // The last steps may unmask nothing and send no event: finish the bar from the totals.
        bar.update(result.stats.steps, result.stats.steps, ` | ${result.stats.forwardPasses} forward passes`);
        bar.stop();
        // --json prints exactly what POST /v1/generate answers.
        const response = generateResponse(`gen-${randomUUID()}`, modelId, service, prepared, result, flags.stopAtEos ?? false);
        process.stdout.write(flags.json ? `${JSON.stringify(response)}\n` : textReport(response.samples.map((sample) => sample.text)));
      } finally {
        await service.close();
      }
    });
}

/** The bar follows the slowest sample: steps reached over all rounds, and forward passes summed. */
function stepProgress(bar: ProgressReporter, steps: number, samples: number): (sample: number, event: StepEvent) => void {
  const reached = new Array<number>(samples).fill(0);
  const passes = new Array<number>(samples).fill(0);
  let totalSteps = steps;
  return (sample, event) => {
    reached[sample] = event.round * steps + event.step + 1;
    passes[sample] = event.forwardPasses;
    totalSteps = Math.max(totalSteps, (event.round + 1) * steps);
    bar.update(Math.min(...reached), totalSteps, ` | ${passes.reduce((a, b) => a + b, 0)} forward passes`);
  };
}

function textReport(texts: readonly string[]): string {
  if (texts.length === 1) return `${texts[0] ?? ''}\n`;
  return texts.map((text, index) => `--- sample ${index} ---\n${text}\n`).join('');
}
