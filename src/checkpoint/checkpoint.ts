import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type MdlmConfig, readMdlmConfig } from './config.js';
import { LoadedCheckpoint, NamedWeights } from './named-weights.js';
import { mdlmLayout } from './tensor-layout.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

/**
 * A validated MDLM checkpoint directory (config.json + model.safetensors). Weights are read
 * one tensor at a time by canonical name (without the `backbone.` prefix).
 */
export class Checkpoint extends LoadedCheckpoint<MdlmConfig> {
  static async open(dir: string): Promise<Checkpoint> {
    const config = await readMdlmConfig(dir);
    return new Checkpoint(dir, config, NamedWeights.open(join(dir, WEIGHTS_FILE), mdlmLayout(config), 'its config.json'));
  }
}

/** sha256 over config.json and the weights: an export records it to detect a changed checkpoint. */
export async function checkpointHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readFile(join(dir, CONFIG_FILE)));
  for await (const chunk of createReadStream(join(dir, WEIGHTS_FILE), { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
