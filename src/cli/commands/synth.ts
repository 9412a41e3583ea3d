import type { Command } from 'commander';
import { z } from 'zod';
import { SYNTH_PRESETS, type SynthPreset, synthesizeCheckpoint } from '../../checkpoint/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';

const SynthFlags = z.object({
  out: z.string().min(1),
  preset: z.enum(Object.keys(SYNTH_PRESETS) as [SynthPreset, ...SynthPreset[]]),
  seed: cliInt(0, Number.MAX_SAFE_INTEGER),
  vocabSize: cliInt(3, 1_048_576).optional(),
  length: cliInt(1, 131_072).optional(),
  hiddenDim: cliInt(2, 65_536).optional(),
  condDim: cliInt(1, 65_536).optional(),
  blocks: cliInt(1, 1_024).optional(),
  heads: cliInt(1, 1_024).optional(),
  timeConditioning: z.boolean().optional(),
});

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('Write a synthetic MDLM checkpoint with the names, shapes and file layout of kuleshov-group/mdlm-owt and random weights')
    .requiredOption('--out <dir>', 'checkpoint directory to create (replaced atomically if it exists)')
    .option('--preset <name>', `shape preset: ${Object.keys(SYNTH_PRESETS).join(', ')}`, 'tiny')
    .option('--seed <n>', 'random seed for the weights', '0')
    .option('--vocab-size <n>', 'vocabulary size including the mask token (50258 = GPT-2 + mask)')
    .option('--length <n>', 'model_length L (sequence window)')
    .option('--hidden-dim <n>', 'hidden width D')
    .option('--cond-dim <n>', 'conditioning width C')
    .option('--blocks <n>', 'number of transformer blocks')
    .option('--heads <n>', 'number of attention heads (D/heads must be even)')
    .option('--time-conditioning', 'make the network depend on the diffusion time')
    .option('--no-time-conditioning', 'ignore the diffusion time, as mdlm-owt does')
    .action(async (raw: Record<string, unknown>) => {
      exitOnInterrupt();
      const flags = parseFlags(SynthFlags, raw);
      const preset = SYNTH_PRESETS[flags.preset];
      const shape = {
        vocab_size: flags.vocabSize ?? preset.vocab_size,
        model_length: flags.length ?? preset.model_length,
        hidden_dim: flags.hiddenDim ?? preset.hidden_dim,
        cond_dim: flags.condDim ?? preset.cond_dim,
        n_blocks: flags.blocks ?? preset.n_blocks,
        n_heads: flags.heads ?? preset.n_heads,
        time_conditioning: flags.timeConditioning ?? preset.time_conditioning,
      };
      const config = await synthesizeCheckpoint({ outDir: flags.out, shape, seed: flags.seed });
      process.stderr.write(`wrote ${flags.out}: V ${config.vocab_size}, L ${config.model_length}, D ${config.hidden_dim}, ${config.n_blocks} blocks, ${config.n_heads} heads, time_conditioning ${config.time_conditioning}\n`);
    });
}
