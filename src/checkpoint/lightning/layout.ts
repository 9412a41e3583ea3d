import { ErrorCodes, MdlmError } from '../../errors.js';
import type { MdlmConfig } from '../config.js';
import { BACKBONE_PREFIX, DERIVABLE_BUFFERS, type LayoutProblems, describeProblems, expectedTensorShapes, hasProblems } from '../tensor-layout.js';
import type { LightningBackbone } from './hyper-parameters.js';
import { type PyValue, describe } from './pickle.js';
import { TorchTensor } from './torch-pickle.js';

/** The AR baseline's blocks and final layer are the DIT's without adaLN modulation, and it has no sigma_map. */
function isConditioning(name: string): boolean {
  return name.startsWith('sigma_map.') || name.includes('.adaLN_modulation.');
}

/**
 * Canonical name → shape of every parameter of each of the seed's backbones, in the order of
 * its `backbone.parameters()` (registration order), which is the order of `ema.shadow_params`.
 * `expectedTensorShapes` lists the DIT's in that order (spec §11); the fixtures' torch-made
 * parameter order checks it for both backbones. This is the .ckpt format's to know: which
 * family serves a backbone is the families' to say (src/families).
 */
const BACKBONE_PARAMETERS: Record<LightningBackbone, (config: MdlmConfig) => Map<string, number[]>> = {
  dit: expectedTensorShapes,
  ar: (config) => new Map([...expectedTensorShapes(config)].filter(([name]) => !isConditioning(name))),
};

export function backboneShapes(backbone: LightningBackbone, config: MdlmConfig): Map<string, number[]> {
  return BACKBONE_PARAMETERS[backbone](config);
}

/** Compares the state_dict's backbone tensors (canonical names) with the expected layout, listing every discrepancy. */
export function layoutProblems(
  expected: ReadonlyMap<string, readonly number[]>,
  found: ReadonlyMap<string, TorchTensor>,
): LayoutProblems {
  const problems: LayoutProblems = { missing: [], unexpected: [], misshaped: [] };
  for (const [name, tensor] of found) {
    if (DERIVABLE_BUFFERS.has(name)) continue;
    const shape = expected.get(name);
    if (shape === undefined) problems.unexpected.push(BACKBONE_PREFIX + name);
    else if (!sameShape(shape, tensor.shape)) {
      problems.misshaped.push({ name: BACKBONE_PREFIX + name, expected: [...shape], actual: [...tensor.shape] });
    }
  }
  for (const name of expected.keys()) if (!found.has(name)) problems.missing.push(BACKBONE_PREFIX + name);
  return problems;
}

export function assertLayout(expected: ReadonlyMap<string, readonly number[]>, found: ReadonlyMap<string, TorchTensor>, source: string): void {
  const problems = layoutProblems(expected, found);
  if (hasProblems(problems)) {
    throw new MdlmError(
      ErrorCodes.invalidCheckpoint,
      `${source}: the state_dict does not match hyper_parameters.config:\n${describeProblems(problems)}`,
      { details: problems },
    );
  }
}

/** A tensor chosen as a weight, and how to name it in messages (where it sits in the file). */
export interface WeightSource {
  name: string;
  where: string;
  tensor: TorchTensor;
}

/**
 * Names `ema.shadow_params` by position: it lists the backbone's parameters in order. A list
 * of another length or with another shape somewhere is a different model (or the seed's
 * noise schedule had parameters of its own), and is refused rather than guessed at.
 */
export function nameShadowParams(
  expected: ReadonlyMap<string, readonly number[]>,
  shadowParams: PyValue | undefined,
  source: string,
): WeightSource[] {
  const invalid = (message: string): MdlmError => new MdlmError(ErrorCodes.invalidCheckpoint, `${source}: ${message}`);
  if (!Array.isArray(shadowParams)) throw invalid(`ema.shadow_params is ${describe(shadowParams ?? null)}, not a list`);
  const names = [...expected.keys()];
  if (shadowParams.length !== names.length) {
    throw invalid(`ema.shadow_params holds ${shadowParams.length} tensors but the backbone has ${names.length} parameters`);
  }
  const named: WeightSource[] = [];
  const problems: string[] = [];
  names.forEach((name, i) => {
    const tensor = shadowParams[i] as PyValue;
    const shape = expected.get(name) as readonly number[];
    const where = `ema.shadow_params[${i}] (${name})`;
    if (!(tensor instanceof TorchTensor)) problems.push(`${where} is ${describe(tensor)}, not a tensor`);
    else if (!sameShape(shape, tensor.shape)) problems.push(`${where}: expected [${shape.join(', ')}], found [${tensor.shape.join(', ')}]`);
    else named.push({ name, where, tensor });
  });
  if (problems.length > 0) throw invalid(`ema.shadow_params does not follow the backbone's parameter order:\n${problems.join('\n')}`);
  return named;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}
