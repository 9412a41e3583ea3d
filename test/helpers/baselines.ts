/** The seed's .ckpt fixtures exported and served, with a word-level tokenizer of their vocabulary. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportModel } from '../../src/families/index.js';
import { GenerationService } from '../../src/generation/index.js';
import type { ExportHead, WeightDtype } from '../../src/model/index.js';
import { ProviderOptionsSchema } from '../../src/runtime/index.js';
import { buildWordLevelTokenizer } from '../../src/tokenizer/index.js';
import { tempDir } from './tmp.js';

export const CKPT_DIR = join(import.meta.dirname, '..', 'fixtures', 'ckpt');
/** The vocabulary of the mdlm, sedd and ar fixtures: 19 tokens and the mask (19). */
export const CKPT_VOCAB = 20;

export function ckptPath(name: string): string {
  return join(CKPT_DIR, name.endsWith('.ckpt') ? name : `${name}.ckpt`);
}

/**
 * tokenizer.json + tokenizer_config.json of a word-level vocabulary in a fresh directory (mask
 * = vocabSize − 1). With `framing`, [UNK] (id 0) is also its BOS and EOS, as GPT-2's
 * <|endoftext|> is both.
 */
export function wordTokenizerDir(vocabSize = CKPT_VOCAB, framing = false): string {
  const dir = join(tempDir(), 'tokenizer');
  mkdirSync(dir, { recursive: true });
  const { tokenizerJson, tokenizerConfig } = buildWordLevelTokenizer(vocabSize);
  const config = framing ? { ...tokenizerConfig, bos_token: '[UNK]', eos_token: '[UNK]' } : tokenizerConfig;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

export interface CkptExportOptions {
  weights?: 'ema' | 'raw';
  maskIndex?: number;
  dtype?: WeightDtype;
  fused?: boolean;
  tokenizerDir?: string;
}

export async function exportCkpt(name: string, head: ExportHead, options: CkptExportOptions = {}): Promise<string> {
  const outDir = join(tempDir(), `${name}-${head}`);
  await exportModel({ checkpointDir: ckptPath(name), outDir, head, ...options });
  return outDir;
}

/** A service on a positions-head export of a fixture, with the word-level tokenizer. */
export async function ckptService(name: string, maxBatch = 256): Promise<GenerationService> {
  const exportDir = await exportCkpt(name, 'positions', { tokenizerDir: wordTokenizerDir() });
  return GenerationService.open({
    exportDir,
    device: 'cpu',
    providerOptions: ProviderOptionsSchema.parse({}),
    workers: 1,
    scheduler: { maxBatch, maxBatchEntries: 1 << 16, maxQueue: 1 << 20, batchWaitMs: 0 },
  });
}
