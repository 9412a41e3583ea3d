import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, MdlmError } from '../errors.js';
import { describeNonFinite, findNonFinite } from '../util/finite.js';
import { type MdlmConfig, readMdlmConfig } from './config.js';
import { SafetensorsFile } from './safetensors.js';
import { describeProblems, hasProblems, matchLayout } from './tensor-layout.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

/**
 * A validated MDLM checkpoint directory (config.json + model.safetensors). Weights are read
 * one tensor at a time by canonical name (without the `backbone.` prefix).
 */
export class Checkpoint {
  readonly dir: string;
  readonly config: MdlmConfig;
  private readonly file: SafetensorsFile;
  private readonly storedNames: Map<string, string>;

  private constructor(dir: string, config: MdlmConfig, file: SafetensorsFile, storedNames: Map<string, string>) {
    this.dir = dir;
    this.config = config;
    this.file = file;
    this.storedNames = storedNames;
  }

  static async open(dir: string): Promise<Checkpoint> {
    const config = await readMdlmConfig(dir);
    const file = SafetensorsFile.open(join(dir, WEIGHTS_FILE));
    const { storedNames, problems } = matchLayout(config, file.tensors);
    if (hasProblems(problems)) {
      file.close();
      throw new MdlmError(
        ErrorCodes.invalidCheckpoint,
        `${join(dir, WEIGHTS_FILE)} does not match its config.json:\n${describeProblems(problems)}`,
        { details: problems },
      );
    }
    return new Checkpoint(dir, config, file, storedNames);
  }

  /** One weight as float32; a weight holding NaN or an infinity is refused, naming it. */
  weight(canonicalName: string): Float32Array {
    const stored = this.storedNames.get(canonicalName);
    if (stored === undefined) throw new Error(`unknown MDLM tensor ${canonicalName}`);
    const values = this.file.readFloat32(stored);
    const nonFinite = findNonFinite(values);
    if (nonFinite !== undefined) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${this.file.path}: tensor ${stored} holds ${describeNonFinite(nonFinite, values.length)}; the checkpoint is corrupt or its training diverged`);
    }
    return values;
  }

  /** Size of the weights as float32, which is what an fp32 export writes. */
  get weightBytes(): number {
    let elements = 0;
    for (const stored of this.storedNames.values()) {
      const info = this.file.tensors.get(stored);
      if (info !== undefined) elements += info.shape.reduce((product, dim) => product * dim, 1);
    }
    return elements * 4;
  }

  close(): void {
    this.file.close();
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
