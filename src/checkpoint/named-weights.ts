import { ErrorCodes, MdlmError } from '../errors.js';
import { describeNonFinite, findNonFinite } from '../util/finite.js';
import { SafetensorsFile } from './safetensors.js';
import { type TensorLayout, describeProblems, hasProblems, matchTensorLayout } from './tensor-layout.js';

/**
 * A safetensors file checked against an architecture's tensor layout, read one tensor at a
 * time by canonical name. Opening refuses a file that does not match, listing every missing,
 * unexpected and mis-shaped tensor in one error.
 */
export class NamedWeights {
  private constructor(
    private readonly file: SafetensorsFile,
    private readonly storedNames: ReadonlyMap<string, string>,
    private readonly optional: ReadonlySet<string>,
  ) {}

  /** `against` says what the layout comes from, for the error ("its config.json"). */
  static open(path: string, layout: TensorLayout, against: string): NamedWeights {
    const file = SafetensorsFile.open(path);
    const { storedNames, problems } = matchTensorLayout(layout, file.tensors);
    if (hasProblems(problems)) {
      file.close();
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path} does not match ${against}:\n${describeProblems(problems)}`, { details: problems });
    }
    return new NamedWeights(file, storedNames, layout.optional ?? new Set());
  }

  /** Whether an optional tensor is stored. */
  has(canonicalName: string): boolean {
    return this.storedNames.has(canonicalName);
  }

  /** The name the file stores a tensor under, for messages. */
  storedName(canonicalName: string): string {
    return this.storedNames.get(canonicalName) ?? canonicalName;
  }

  /** One weight as float32; a weight holding NaN or an infinity is refused, naming it. */
  weight(canonicalName: string): Float32Array {
    const stored = this.storedNames.get(canonicalName);
    if (stored === undefined) throw new Error(`unknown tensor ${canonicalName}`);
    const values = this.file.readFloat32(stored);
    const nonFinite = findNonFinite(values);
    if (nonFinite !== undefined) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${this.file.path}: tensor ${stored} holds ${describeNonFinite(nonFinite, values.length)}; the checkpoint is corrupt or its training diverged`);
    }
    return values;
  }

  /** Size of the weights as float32, which is what an fp32 export writes (optional copies left out). */
  get weightBytes(): number {
    let elements = 0;
    for (const [canonical, stored] of this.storedNames) {
      if (this.optional.has(canonical)) continue;
      const info = this.file.tensors.get(stored);
      if (info !== undefined) elements += info.shape.reduce((product, dim) => product * dim, 1);
    }
    return elements * 4;
  }

  close(): void {
    this.file.close();
  }
}

/** A checkpoint directory opened for export: its validated config, and its weights by canonical name. */
export abstract class LoadedCheckpoint<Config> {
  protected constructor(
    readonly dir: string,
    readonly config: Config,
    private readonly weights: NamedWeights,
  ) {}

  weight(canonicalName: string): Float32Array {
    return this.weights.weight(canonicalName);
  }

  /** Size of the weights as float32, which is what an fp32 export writes (a tied copy once). */
  get weightBytes(): number {
    return this.weights.weightBytes;
  }

  close(): void {
    this.weights.close();
  }
}
