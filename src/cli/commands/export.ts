import type { Command } from 'commander';
import { z } from 'zod';
import { LIGHTNING_WEIGHTS } from '../../checkpoint/index.js';
import { exportModel } from '../../families/index.js';
import { EXPORT_HEADS, WEIGHT_DTYPES } from '../../model/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { cliInt, parseFlags } from '../options.js';
import { progressBar } from '../progress.js';

const ExportFlags = z.object({
  checkpoint: z.string().min(1),
  out: z.string().min(1),
  head: z.enum(EXPORT_HEADS),
  dtype: z.enum(WEIGHT_DTYPES),
  fused: z.boolean(),
  maskIndex: cliInt(0, 1_048_575).optional(),
  tokenizer: z.string().min(1).optional(),
  weights: z.enum(LIGHTNING_WEIGHTS).optional(),
});

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("Convert a checkpoint into an ONNX model directory: MDLM or GPT-2 (config.json + model.safetensors; model_type says which), or a seed's Lightning .ckpt (MDLM, SEDD or the AR baseline)")
    .requiredOption('--checkpoint <path>', 'checkpoint directory, or a Lightning .ckpt file')
    .requiredOption('--out <dir>', 'output directory (written atomically: temporary name, then rename)')
    .option('--head <head>', 'positions: draws and scores tokens at chosen positions (what the server runs); logits: every raw logit (for verification)', 'positions')
    .option('--dtype <dtype>', 'weight and matmul precision: fp32, int8 (the blocks\' matrix products in integers, per-column weight and per-row activation scales) or fp16', 'fp32')
    .option('--no-fused', "use only standard ONNX operators instead of onnxruntime's fused contrib operators")
    .option('--tokenizer <dir>', 'directory with tokenizer.json (+ tokenizer_config.json) to ship with the export (default: the checkpoint directory, when it has one)')
    .option('--weights <weights>', `a .ckpt's weights: ${LIGHTNING_WEIGHTS.join(' or ')} (default ema, what the seed samples and evaluates with)`)
    .option('--mask-index <id>', 'MDLM only: mask token id (default: the tokenizer\'s mask id, else vocab_size - 1)')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(ExportFlags, raw, command);
      const bar = progressBar('export', 'MB');
      const started = Date.now();
      try {
        const manifest = await exportModel({
          checkpointDir: flags.checkpoint,
          weights: flags.weights,
          outDir: flags.out,
          head: flags.head,
          dtype: flags.dtype,
          fused: flags.fused,
          maskIndex: flags.maskIndex,
          tokenizerDir: flags.tokenizer,
          onProgress: (done, total) => bar.update(Math.round(done / 1e6), Math.round(total / 1e6)),
        });
        bar.stop();
        process.stderr.write(`exported ${flags.out} (${manifest.architecture}, ${manifest.head} head, ${manifest.dtype}, ${(manifest.files.dataBytes / 1e6).toFixed(1)} MB of weights) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      } finally {
        bar.stop();
      }
    });
}
