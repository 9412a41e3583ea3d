import type { Command } from 'commander';
import { z } from 'zod';
import { itemScoreJson } from '../../api/index.js';
import { SCORE_DEFAULTS } from '../../generation/index.js';
import { SCORE_METHODS } from '../../scoring/index.js';
import { exitOnInterrupt } from '../interrupt.js';
import { ModelFlags, addModelOptions, openModelService } from '../model-service.js';
import { cliInt, parseFlags } from '../options.js';

const TokenList = z
  .string()
  .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'a comma-separated list of token ids, e.g. 1,2,3')
  .transform((list) => list.split(',').map(Number));

const ScoreFlags = ModelFlags.extend({
  text: z.string().min(1).optional(),
  tokenIds: TokenList.optional(),
  contextText: z.string().optional(),
  contextTokens: cliInt(0, 1_000_000).optional(),
  method: z.enum(SCORE_METHODS).optional(),
  mcSamples: cliInt(1, 10_000_000),
  seed: cliInt(0, Number.MAX_SAFE_INTEGER).optional(),
  antithetic: z.boolean(),
  specialTokens: z.boolean(),
  json: z.boolean().default(false),
})
  .refine((flags) => (flags.text === undefined) !== (flags.tokenIds === undefined), { message: 'give exactly one of --text and --token-ids', path: ['text'] })
  .refine((flags) => flags.contextText === undefined || flags.text !== undefined, { message: '--context-text goes with --text (with --token-ids, use --context-tokens)', path: ['contextText'] })
  .refine((flags) => flags.contextTokens === undefined || (flags.tokenIds !== undefined && flags.contextTokens < flags.tokenIds.length), {
    message: '--context-tokens N takes the first N of --token-ids as the context, and leaves at least one to score',
    path: ['contextTokens'],
  });

export function registerScore(program: Command): void {
  addModelOptions(program.command('score').description('Score one text or token sequence: its NELBO (elbo) or left-to-right log-likelihood (ar)'))
    .option('--text <text>', 'what is scored, as text')
    .option('--token-ids <ids>', 'what is scored, as comma-separated token ids')
    .option('--context-text <text>', 'text it is conditioned on (never masked, never scored)')
    .option('--context-tokens <n>', 'with --token-ids: the first N ids are the context')
    .option('--method <method>', `${SCORE_METHODS.join(' or ')}: the NELBO bound by Monte Carlo, or the exact left-to-right log-likelihood (default ${SCORE_DEFAULTS.method}; ar for an autoregressive model)`)
    .option('--mc-samples <n>', 'elbo: Monte Carlo draws of t', String(SCORE_DEFAULTS.mcSamples))
    .option('--seed <n>', 'elbo: random seed (default: random, printed)')
    .option('--no-antithetic', 'elbo: draw t independently instead of stratified')
    .option('--no-special-tokens', "do not put the tokenizer's BOS before what is scored")
    .option('--json', 'print the result as JSON (the shape of one /v1/score item, plus method and seed)')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      exitOnInterrupt();
      const flags = parseFlags(ScoreFlags, raw, command);
      const { service } = await openModelService(flags, { maxBatch: 16, maxQueue: 1 });
      try {
        const split = flags.contextTokens ?? 0;
        const item = flags.tokenIds === undefined ? { input: flags.text ?? '', context: flags.contextText } : { input: flags.tokenIds.slice(split), context: flags.tokenIds.slice(0, split) };
        const prepared = service.prepareScore({ items: [item], method: flags.method, mcSamples: flags.mcSamples, seed: flags.seed, antithetic: flags.antithetic, addSpecialTokens: flags.specialTokens });
        const result = await service.score(prepared);
        const scored = { method: prepared.method, seed: result.seed, ...itemScoreJson(result.items[0] as (typeof result.items)[number], 0) };
        process.stdout.write(flags.json ? `${JSON.stringify(scored)}\n` : textReport(scored));
      } finally {
        await service.close();
      }
    });
}

function textReport(scored: ReturnType<typeof itemScoreJson> & { method: string }): string {
  const bound = scored.method === 'elbo' ? ` ± ${scored.stderr === null ? 'n/a' : scored.stderr.toFixed(4)} (an upper bound on −log p)` : ' (exact, left to right)';
  return `nll ${scored.nll.toFixed(4)} nats${bound} over ${scored.tokens} tokens: ${scored.nll_per_token.toFixed(4)} nats/token, perplexity ${scored.perplexity.toFixed(3)}, ${scored.bits_per_token.toFixed(4)} bits/token\n`;
}
