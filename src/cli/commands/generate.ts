import type { Command } from 'commander';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { GENERATION_DEFAULTS } from '../../generation/index.js';
import { REMDM_DEFAULTS, SAMPLERS, type StepEvent } from '../../sampling/index.js';
import { generateResponse } from '../../server/generate-body.js';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions, openModelService } from '../model-service.js';
import { cliInt, cliNumber, parseFlags } from '../options.js';
import { type ProgressReporter, progressBar } from '../progress.js';
import { reportStartupOnFirstPass } from '../startup-report.js';

const GenerateFlags = ModelFlags.extend({
    prompt: z.string().optional(),
    suffix: z.string().optional(),
    length: cliInt(1, 131_072).optional(),
    steps: cliInt(1, 1_000_000).optional(),
    sampler: z.enum(SAMPLERS).optional(),
    numSamples: cliInt(1, 4096),
    seed: cliInt(0, Number.MAX_SAFE_INTEGER).optional(),
    temperature: cliNumber(0, 100),
    topP: cliNumber(0, 1).refine((p) => p > 0, 'must be above 0').optional(),
    topK: cliInt(0, 1_048_576).optional(),
    eta: cliNumber(0, 1).optional(),
    tOn: cliNumber(0, 1).optional(),
    tOff: cliNumber(0, 1).optional(),
    alphaOn: cliNumber(0, 1).optional(),
    specialTokens: z.boolean(),
    strideLength: cliInt(1, 131_072).optional(),
    numStrides: cliInt(0, 10_000).optional(),
    stopAtEos: z.boolean().default(false),
    json: z.boolean().default(false),
    verbose: z.boolean().default(false),
  })
  .refine((flags) => (flags.strideLength === undefined) === (flags.numStrides === undefined), {
    message: 'give both --stride-length and --num-strides, or neither',
    path: ['strideLength'],
  });

export function registerGenerate(program: Command): void {
  addModelOptions(program.command('generate').description('Generate text once from a model: hub id, checkpoint directory or exported model directory'))
    .option('--prompt <text>', 'text the output starts with (fixed from the first step)')
    .option('--suffix <text>', 'text the output ends with (infilling between prompt and suffix)')
    .option('--length <n>', "window length L (default: the model's length)")
    .option('--steps <n>', `denoising steps T (default ${GENERATION_DEFAULTS.steps}; an autoregressive model takes none: one step per token)`)
    .option('--sampler <name>', `${SAMPLERS.join(', ')} (default ${GENERATION_DEFAULTS.sampler}; analytic for SEDD; none for an autoregressive model)`)
    .option('--num-samples <n>', 'independent samples (batched together)', String(GENERATION_DEFAULTS.numSamples))
    .option('--seed <n>', 'random seed (default: random, printed with --json)')
    .option('--temperature <x>', 'divides the logits before SUBS: 1 reproduces the paper; 0 is greedy', String(GENERATION_DEFAULTS.temperature))
    .option('--top-p <p>', 'nucleus sampling: keep the most likely tokens within mass p (1: off)')
    .option('--top-k <k>', 'keep the k most likely tokens at each draw (0: off)')
    .option('--eta <x>', `ReMDM remasking rate (remdm-cap ${REMDM_DEFAULTS.eta['remdm-cap']}, remdm-rescale ${REMDM_DEFAULTS.eta['remdm-rescale']}, remdm-loop ${REMDM_DEFAULTS.eta['remdm-loop']})`)
    .option('--t-on <t>', `remdm-loop: start of the loop phase (default ${REMDM_DEFAULTS.tOn})`)
    .option('--t-off <t>', `remdm-loop: end of the loop phase (default ${REMDM_DEFAULTS.tOff})`)
    .option('--alpha-on <a>', `remdm-loop: alpha held during the loop (default ${REMDM_DEFAULTS.alphaOn})`)
    .option('--no-special-tokens', "do not frame the prompt with BOS and the suffix with EOS")
    .option('--stride-length <n>', 'semi-autoregressive: tokens emitted per round')
    .option('--num-strides <n>', 'semi-autoregressive: rounds after the first (output L + n·s tokens)')
    .option('--stop-at-eos', 'cut each sample at the first end-of-text token after the prompt')
    .option('--json', 'print exactly what POST /v1/generate answers, as JSON, instead of the text')
    .option('--verbose', 'print the execution provider chosen (and why others were passed over) and where start-up went (Node, imports, tokenizer, worker, session) once the first forward pass is done')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(GenerateFlags, raw, command);
      const { service, modelId } = await openModelService(flags, { maxBatch: Math.min(flags.numSamples, 64), maxQueue: flags.numSamples });
      if (flags.verbose) reportStartupOnFirstPass(service);
      try {
        const prepared = service.prepare({
          prompt: flags.prompt,
          suffix: flags.suffix,
          length: flags.length,
          steps: flags.steps,
          sampler: flags.sampler,
          numSamples: flags.numSamples,
          seed: flags.seed,
          temperature: flags.temperature,
          topP: flags.topP,
          topK: flags.topK,
          eta: flags.eta,
          tOn: flags.tOn,
          tOff: flags.tOff,
          alphaOn: flags.alphaOn,
          addSpecialTokens: flags.specialTokens,
          semiAr: flags.strideLength === undefined ? undefined : { strideLength: flags.strideLength, numStrides: flags.numStrides ?? 0 },
        });
        const bar = progressBar('denoising', 'steps');
        const result = await service.generate(prepared, { onStep: stepProgress(bar, prepared.sampling.steps, flags.numSamples) });
        // The last steps may unmask nothing and send no event: finish the bar from the totals.
        bar.update(result.stats.steps, result.stats.steps, ` | ${result.stats.forwardPasses} forward passes`);
        bar.stop();
        // --json prints exactly what POST /v1/generate answers.
        const response = generateResponse(`gen-${randomUUID()}`, modelId, service, prepared, result, flags.stopAtEos);
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
