import { statSync } from 'node:fs';
import { type ErrorCode, ErrorCodes, MdlmError } from '../../errors.js';
import { bf16ToF32, f16ToF32 } from '../../util/half.js';
import { fileSha256 } from '../../util/hash.js';
import type { MdlmConfig } from '../config.js';
import { BACKBONE_PREFIX } from '../tensor-layout.js';
import { type LightningBackbone, type LightningParameterization, type SeedConfig, readSeedConfig, toMdlmConfig } from './hyper-parameters.js';
import { type WeightSource, assertLayout, backboneShapes, nameShadowParams } from './layout.js';
import { type PyDict, type PyValue, describe } from './pickle.js';
import { type PlainObject, findForeign, toPlain } from './plain.js';
import { TorchTensor, readTorchPickle } from './torch-pickle.js';
import { type RecordLocation, TorchArchive } from './zip.js';

/** `ema`: the EMA weights the seed samples and evaluates with; `raw`: the state_dict's. */
export const LIGHTNING_WEIGHTS = ['ema', 'raw'] as const;
export type LightningWeights = (typeof LIGHTNING_WEIGHTS)[number];

export interface LightningOpenOptions {
  /** `ema` (default): the EMA weights the seed samples and evaluates with; `raw`: the state_dict's. */
  weights?: LightningWeights;
  /** The file's sha256 when the caller has already computed it: a multi-GB file is not hashed again. */
  sha256?: string;
}

/** How a model reference names a Lightning checkpoint: a file with the seed's `.ckpt` extension. */
export const LIGHTNING_EXTENSION = '.ckpt';

/** Whether `path` is a Lightning .ckpt file (anything else a reference names is a directory). */
export function isLightningFile(path: string): boolean {
  return path.endsWith(LIGHTNING_EXTENSION) && statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

/** data.pkl holds metadata only (tensor data is in the storages): a few MB with a tokenizer. */
const MAX_PICKLE_BYTES = 1024 * 1024 * 1024;

const FLOAT_DTYPES = new Set(['float32', 'float16', 'bfloat16']);

interface WeightSlot extends WeightSource {
  location: RecordLocation;
}

/**
 * A PyTorch Lightning `.ckpt` of the seed (spec §11), read without running any of its pickle.
 * It offers what `Checkpoint` offers for a Hugging Face folder (`config`, `weight`,
 * `weightBytes`, `close`) plus what the file says about the model. Opening reads the zip
 * directory, data.pkl and the file's hash; each weight is read from its storage when asked.
 */
export class LightningCheckpoint {
  readonly config: MdlmConfig;
  readonly backbone: LightningBackbone;
  readonly parameterization: LightningParameterization;
  /** hyper_parameters.config.data.tokenizer_name_or_path, e.g. `gpt2`. */
  readonly tokenizerName: string;
  /** hyper_parameters as plain data; objects of unknown classes (the tokenizer) as `{ $opaque }`. */
  readonly hyperParameters: PlainObject;
  private readonly slots: ReadonlyMap<string, WeightSlot>;

  private constructor(
    readonly path: string,
    readonly weights: LightningWeights,
    contents: Contents,
    /** sha256 of the whole file, hex. */
    readonly sha256: string,
    private readonly archive: TorchArchive,
  ) {
    this.config = contents.config;
    this.backbone = contents.seed.backbone;
    this.parameterization = contents.seed.parameterization;
    this.tokenizerName = contents.seed.data.tokenizer_name_or_path;
    this.hyperParameters = contents.hyperParameters;
    this.slots = contents.slots;
  }

  static async open(path: string, options: LightningOpenOptions = {}): Promise<LightningCheckpoint> {
    const weights = options.weights ?? 'ema';
    if (weights !== 'ema' && weights !== 'raw') {
      throw new MdlmError(ErrorCodes.invalidArgument, `weights must be 'ema' or 'raw', not ${String(weights)}`);
    }
    const archive = await TorchArchive.open(path);
    try {
      const contents = await readContents(archive, weights);
      return new LightningCheckpoint(path, weights, contents, options.sha256 ?? (await fileSha256(path)), archive);
    } catch (error) {
      archive.close();
      throw error;
    }
  }

  /** Canonical name (no `backbone.` prefix) → shape, in the order of the backbone's parameters. */
  get tensorShapes(): ReadonlyMap<string, readonly number[]> {
    return new Map([...this.slots].map(([name, slot]) => [name, slot.tensor.shape]));
  }

  /** Reads one weight from its storage, converted to float32. */
  weight(canonicalName: string): Float32Array {
    const slot = this.slots.get(canonicalName);
    if (slot === undefined) {
      throw new MdlmError(ErrorCodes.invalidArgument, `${this.path}: no ${this.backbone} tensor named ${canonicalName}`);
    }
    const { tensor, location } = slot;
    const { itemSize, dtype } = tensor.storage;
    const bytes = this.archive.readRange(location, tensor.offset * itemSize, tensor.numel * itemSize);
    if (dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, tensor.numel);
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, tensor.numel);
    return dtype === 'float16' ? f16ToF32(halves) : bf16ToF32(halves);
  }

  /** Size of the weights as float32, which is what an fp32 export writes. */
  get weightBytes(): number {
    let elements = 0;
    for (const slot of this.slots.values()) elements += slot.tensor.numel;
    return elements * 4;
  }

  close(): void {
    this.archive.close();
  }
}

interface Contents {
  seed: SeedConfig;
  config: MdlmConfig;
  hyperParameters: PlainObject;
  slots: Map<string, WeightSlot>;
}

async function readContents(archive: TorchArchive, weights: LightningWeights): Promise<Contents> {
  const { path } = archive;
  await checkByteOrder(archive);
  const root = readTorchPickle(await archive.read('data.pkl', MAX_PICKLE_BYTES), `${path}: data.pkl`);
  const { top, stateDict } = lightningDict(root, path);
  refuseForeign(top, path);
  const rawHyperParameters = top.get('hyper_parameters');
  const hyperParameters = rawHyperParameters === undefined ? undefined : toPlain(rawHyperParameters, path);
  const seed = readSeedConfig(hyperParameters, path);
  const stateTensors = backboneTensors(stateDict, path);
  const config = toMdlmConfig(seed, vocabSize(stateTensors, path), path);
  const expected = backboneShapes(seed.backbone, config);
  assertLayout(expected, stateTensors, path);
  const sources = weights === 'raw' ? rawSources(expected, stateTensors) : nameShadowParams(expected, shadowParams(top, path), path);
  // readSeedConfig accepted hyper_parameters as an object.
  return { seed, config, hyperParameters: hyperParameters as PlainObject, slots: await locateWeights(archive, sources) };
}

/** torch ≥ 2.1 records the byte order; older versions wrote little-endian only. */
async function checkByteOrder(archive: TorchArchive): Promise<void> {
  if (!archive.has('byteorder')) return;
  const order = Buffer.from(await archive.read('byteorder', 16)).toString('latin1');
  if (order !== 'little') {
    throw new MdlmError(ErrorCodes.invalidCheckpoint, `${archive.path}: stores ${order}-endian tensors; this reader reads little-endian ones`);
  }
}

function lightningDict(root: PyValue, path: string): { top: PyDict; stateDict: PyDict } {
  if (!(root instanceof Map)) {
    throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path}: holds ${describe(root)}, not a Lightning checkpoint's dict`);
  }
  const stateDict = root.get('state_dict');
  if (!(stateDict instanceof Map)) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `${path}: has no state_dict, so it is not a Lightning checkpoint (a bare torch.save of a state dict has its tensors at the top level)`,
    );
  }
  return { top: root, stateDict };
}

/**
 * The skip-versus-refuse rule's second half: an object of an unknown class (inert here, but
 * built by running its class's code in Python) is tolerated in parts the reader ignores, such
 * as the tokenizer in hyper_parameters or a callback's state, but not among the weights.
 */
function refuseForeign(top: PyDict, path: string): void {
  const found = ['state_dict', 'ema'].flatMap((key) => (top.has(key) ? findForeign(top.get(key) as PyValue, key, path) : []));
  if (found.length === 0) return;
  const list = found.map(({ path: at, value }) => `${at} is ${value}`).join('\n');
  throw new MdlmError(
    ErrorCodes.unsafeCheckpoint,
    `${path}: objects of classes other than torch tensors among the weights, which this reader does not rebuild (nothing was executed):\n${list}`,
    { details: found },
  );
}

/** The state_dict's `backbone.*` tensors by canonical name; other entries (other modules' buffers) are not the network. */
function backboneTensors(stateDict: PyDict, path: string): Map<string, TorchTensor> {
  const tensors = new Map<string, TorchTensor>();
  for (const [key, value] of stateDict) {
    if (typeof key !== 'string' || !key.startsWith(BACKBONE_PREFIX)) continue;
    if (!(value instanceof TorchTensor)) {
      throw new MdlmError(ErrorCodes.invalidCheckpoint, `${path}: state_dict[${JSON.stringify(key)}] is ${describe(value)}, not a tensor`);
    }
    tensors.set(key.slice(BACKBONE_PREFIX.length), value);
  }
  return tensors;
}

function vocabSize(tensors: ReadonlyMap<string, TorchTensor>, path: string): number {
  const embedding = tensors.get('vocab_embed.embedding');
  if (embedding === undefined || embedding.shape.length !== 2) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `${path}: state_dict has no 2-D ${BACKBONE_PREFIX}vocab_embed.embedding, whose rows give the vocabulary size`,
    );
  }
  return embedding.shape[0] as number;
}

function rawSources(expected: ReadonlyMap<string, readonly number[]>, tensors: ReadonlyMap<string, TorchTensor>): WeightSource[] {
  return [...expected.keys()].map((name) => ({
    name,
    where: `state_dict[${JSON.stringify(BACKBONE_PREFIX + name)}]`,
    // assertLayout found every expected tensor.
    tensor: tensors.get(name) as TorchTensor,
  }));
}

function shadowParams(top: PyDict, path: string): PyValue | undefined {
  const ema = top.get('ema');
  if (!(ema instanceof Map)) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `${path}: has no ema (the model was trained with training.ema=0?); open it with weights: 'raw' to use the state_dict`,
    );
  }
  return ema.get('shadow_params');
}

/** Checks each chosen tensor can be read as float32 in one contiguous read, and finds its storage record. */
async function locateWeights(archive: TorchArchive, sources: WeightSource[]): Promise<Map<string, WeightSlot>> {
  const problems = sources.flatMap((source) => weightProblems(archive, source));
  const first = problems[0];
  if (first !== undefined) {
    const messages = problems.filter((problem) => problem.code === first.code).map((problem) => problem.message);
    throw new MdlmError(first.code, `${archive.path}: ${messages.join('\n')}`);
  }
  const locations = new Map<string, Promise<RecordLocation>>();
  const slots = new Map<string, WeightSlot>();
  for (const source of sources) {
    const record = `data/${source.tensor.storage.key}`;
    if (!locations.has(record)) locations.set(record, archive.locate(record));
    slots.set(source.name, { ...source, location: await (locations.get(record) as Promise<RecordLocation>) });
  }
  return slots;
}

function weightProblems(archive: TorchArchive, { where, tensor }: WeightSource): { code: ErrorCode; message: string }[] {
  const record = `data/${tensor.storage.key}`;
  const problems: { code: ErrorCode; message: string }[] = [];
  const size = archive.recordSize(record);
  if (size === undefined) {
    problems.push({ code: ErrorCodes.corruptFile, message: `storage ${record} of ${where} is missing from the archive` });
  } else if (size !== tensor.storage.byteLength) {
    problems.push({
      code: ErrorCodes.corruptFile,
      message: `storage ${record} of ${where} has ${size} bytes, not the ${tensor.storage.byteLength} its persistent id says`,
    });
  }
  if (!FLOAT_DTYPES.has(tensor.storage.dtype)) {
    problems.push({
      code: ErrorCodes.unsupportedDtype,
      message: `${where} is ${tensor.storage.dtype}; weights must be float32, float16 or bfloat16`,
    });
  }
  if (!tensor.contiguous) {
    problems.push({
      code: ErrorCodes.invalidCheckpoint,
      message: `${where} is a non-contiguous view (shape [${tensor.shape.join(', ')}], stride [${tensor.stride.join(', ')}]); save it after .contiguous()`,
    });
  }
  return problems;
}
