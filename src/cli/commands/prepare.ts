import type { Command } from 'commander';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions } from '../model-service.js';
import { parseFlags } from '../options.js';
import { resolveWithProgress } from '../resolve-model.js';

const PrepareFlags = ModelFlags.omit({ device: true });

/**
 * `mdlm prepare`: what `serve` does before it listens (download into the Hugging Face cache,
 * convert into the conversion cache), and nothing else. Run once where the caches are
 * writable (a Kubernetes init container or Job), it lets replicas mount them read-only.
 */
export function registerPrepare(program: Command): void {
  addModelOptions(
    program
      .command('prepare')
      .description('Download and convert a model into the caches, print the export directory, and exit: fills a cache that servers then mount read-only'),
    { device: false },
  ).action(async (raw: Record<string, unknown>, command: Command) => {
    exitOnInterrupt(); // a conversion may be under way: its exit hook removes the partial export
    const flags = parseFlags(PrepareFlags, raw, command);
    const resolved = await resolveWithProgress(flags.model, flags);
    process.stdout.write(`${resolved.exportDir}\n`);
  });
}
