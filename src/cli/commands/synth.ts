import type { Command } from 'commander';
import { z } from 'zod';
import { SYNTH_PRESETS, synthesizeCheckpoint } from '../../checkpoint/index.js';
import { ErrorCodes, MdlmError } from '../../errors.js';
import { GPT2_SYNTH_PRESETS, synthesizeGpt2Checkpoint } from '../../families/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';

/** The checkpoint directories it writes, by config.json's model_type. */
const ARCHITECTURES = ['mdlm', 'gpt2'] as const;

const SynthFlags = z.object({
  out: z.string().min(1),
  arch: z.enum(ARCHITECTURES),
  preset: z.string().optional(),
  seed: cliInt(0, Number.MAX_SAFE_INTEGER),
  vocabSize: cliInt(3, 1_048_576).optional(),
  length: cliInt(1, 131_072).optional(),
  hiddenDim: cliInt(2, 65_536).optional(),
  condDim: cliInt(1, 65_536).optional(),
  blocks: cliInt(1, 1_024).optional(),
  heads: cliInt(1, 1_024).optional(),
  timeConditioning: z.boolean().optional(),
  prefixed: z.boolean().default(false),
});
type SynthFlags = z.infer<typeof SynthFlags>;

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('Write a synthetic checkpoint with random weights in the exact Hugging Face layout: kuleshov-group/mdlm-owt\'s (--arch mdlm) or a GPT-2 upload\'s (--arch gpt2)')
    .requiredOption('--out <dir>', 'checkpoint directory to create (replaced atomically if it exists)')
    .option('--arch <name>', `architecture: ${ARCHITECTURES.join(', ')}`, 'mdlm')
    .option('--preset <name>', `shape preset: ${Object.keys(SYNTH_PRESETS).join(', ')} (mdlm; default tiny) or ${Object.keys(GPT2_SYNTH_PRESETS).join(', ')} (gpt2; default tiny; large is gpt2-large)`)
    .option('--seed <n>', 'random seed for the weights', '0')
    .option('--vocab-size <n>', 'vocabulary size (mdlm: including the mask token, 50258 = GPT-2 + mask)')
    .option('--length <n>', 'mdlm: model_length L; gpt2: n_positions')
    .option('--hidden-dim <n>', 'hidden width D (gpt2: n_embd)')
    .option('--cond-dim <n>', 'mdlm: conditioning width C')
    .option('--blocks <n>', 'number of transformer blocks (gpt2: n_layer)')
    .option('--heads <n>', 'number of attention heads (mdlm: D/heads must be even)')
    .option('--time-conditioning', 'mdlm: make the network depend on the diffusion time')
    .option('--no-time-conditioning', 'mdlm: ignore the diffusion time, as mdlm-owt does')
    .option('--prefixed', 'gpt2: GPT2LMHeadModel names (transformer. prefix and an explicit tied lm_head.weight) instead of the gpt2 upload\'s bare ones')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(SynthFlags, raw, command);
      const summary = await { mdlm: synthMdlm, gpt2: synthGpt2 }[flags.arch](flags);
      process.stderr.write(`wrote ${flags.out}: ${summary}\n`);
    });
}

async function synthMdlm(flags: SynthFlags): Promise<string> {
  if (flags.prefixed) throw usage('--prefixed applies to --arch gpt2 only');
  const preset = SYNTH_PRESETS[presetName(flags.preset, SYNTH_PRESETS, 'mdlm')];
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
  return `V ${config.vocab_size}, L ${config.model_length}, D ${config.hidden_dim}, ${config.n_blocks} blocks, ${config.n_heads} heads, time_conditioning ${config.time_conditioning}`;
}

async function synthGpt2(flags: SynthFlags): Promise<string> {
  if (flags.condDim !== undefined || flags.timeConditioning !== undefined) throw usage('--cond-dim and --time-conditioning apply to --arch mdlm only');
  const preset = GPT2_SYNTH_PRESETS[presetName(flags.preset, GPT2_SYNTH_PRESETS, 'gpt2')];
  const shape = {
    vocab_size: flags.vocabSize ?? preset.vocab_size,
    n_positions: flags.length ?? preset.n_positions,
    n_embd: flags.hiddenDim ?? preset.n_embd,
    n_layer: flags.blocks ?? preset.n_layer,
    n_head: flags.heads ?? preset.n_head,
  };
  const config = await synthesizeGpt2Checkpoint({ outDir: flags.out, shape, seed: flags.seed, prefixed: flags.prefixed });
  return `GPT-2, V ${config.vocab_size}, n_positions ${config.n_positions}, n_embd ${config.n_embd}, ${config.n_layer} layers, ${config.n_head} heads`;
}

function presetName<T extends object>(name: string | undefined, presets: T, arch: string): keyof T & string {
  const chosen = name ?? 'tiny';
  if (!Object.hasOwn(presets, chosen)) throw usage(`--preset: ${JSON.stringify(chosen)} is not a ${arch} preset (${Object.keys(presets).join(', ')})`);
  return chosen as keyof T & string;
}

function usage(message: string): MdlmError {
  return new MdlmError(ErrorCodes.invalidArgument, message);
}
