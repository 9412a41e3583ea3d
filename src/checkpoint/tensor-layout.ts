import { type MdlmConfig, TIMESTEP_FEATURES } from './config.js';

/** Name of every tensor of an MDLM backbone, without the `backbone.` prefix, and its shape (spec §1). */
export function expectedTensorShapes(config: MdlmConfig): Map<string, number[]> {
  const { vocab_size: V, hidden_dim: D, cond_dim: C, n_blocks: blocks } = config;
  const shapes = new Map<string, number[]>([
    ['vocab_embed.embedding', [V, D]],
    ['sigma_map.mlp.0.weight', [C, TIMESTEP_FEATURES]],
    ['sigma_map.mlp.0.bias', [C]],
    ['sigma_map.mlp.2.weight', [C, C]],
    ['sigma_map.mlp.2.bias', [C]],
  ]);
  for (let i = 0; i < blocks; i++) {
    const block = `blocks.${i}`;
    shapes.set(`${block}.norm1.weight`, [D]);
    shapes.set(`${block}.attn_qkv.weight`, [3 * D, D]);
    shapes.set(`${block}.attn_out.weight`, [D, D]);
    shapes.set(`${block}.norm2.weight`, [D]);
    shapes.set(`${block}.mlp.0.weight`, [4 * D, D]);
    shapes.set(`${block}.mlp.0.bias`, [4 * D]);
    shapes.set(`${block}.mlp.2.weight`, [D, 4 * D]);
    shapes.set(`${block}.mlp.2.bias`, [D]);
    shapes.set(`${block}.adaLN_modulation.weight`, [6 * D, C]);
    shapes.set(`${block}.adaLN_modulation.bias`, [6 * D]);
  }
  shapes.set('output_layer.norm_final.weight', [D]);
  shapes.set('output_layer.linear.weight', [V, D]);
  shapes.set('output_layer.linear.bias', [V]);
  shapes.set('output_layer.adaLN_modulation.weight', [2 * D, C]);
  shapes.set('output_layer.adaLN_modulation.bias', [2 * D]);
  return shapes;
}

/** Buffers a checkpoint may carry that are derived from the config and therefore ignored. */
export const DERIVABLE_BUFFERS = new Set(['rotary_emb.inv_freq']);

export const BACKBONE_PREFIX = 'backbone.';

export interface LayoutProblems {
  missing: string[];
  unexpected: string[];
  misshaped: { name: string; expected: number[]; actual: number[] }[];
}

/** How the names a file stores map to an architecture's canonical names. */
export interface TensorNaming {
  /** The canonical name of a stored tensor, or undefined for a derivable buffer that is ignored. */
  canonical(stored: string): string | undefined;
  /** How errors name a canonical tensor the file lacks (in the style of the names it stores). */
  missing(canonical: string, stored: ReadonlyMap<string, unknown>): string;
}

/** MDLM: the hub's `backbone.`-prefixed names or bare ones. */
const MDLM_NAMING: TensorNaming = {
  canonical: (stored) => {
    const name = stored.startsWith(BACKBONE_PREFIX) ? stored.slice(BACKBONE_PREFIX.length) : stored;
    return DERIVABLE_BUFFERS.has(name) ? undefined : name;
  },
  missing: (canonical) => BACKBONE_PREFIX + canonical,
};

export interface TensorLayout {
  /** Canonical name → shape. */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** Canonical names that may be absent (a tied weight stored a second time, say). */
  optional?: ReadonlySet<string>;
  naming: TensorNaming;
}

/**
 * Maps canonical names to the names stored in the file and lists every discrepancy at once,
 * so that a user fixes a broken checkpoint in one go. A canonical name stored twice (with and
 * without a prefix) is unexpected.
 */
export function matchTensorLayout(
  layout: TensorLayout,
  stored: ReadonlyMap<string, { shape: number[] }>,
): { storedNames: Map<string, string>; problems: LayoutProblems } {
  const storedNames = new Map<string, string>();
  const problems: LayoutProblems = { missing: [], unexpected: [], misshaped: [] };
  for (const [name, info] of stored) {
    const canonical = layout.naming.canonical(name);
    if (canonical === undefined) continue;
    const shape = layout.shapes.get(canonical);
    if (shape === undefined || storedNames.has(canonical)) {
      problems.unexpected.push(name);
      continue;
    }
    storedNames.set(canonical, name);
    if (!sameShape(shape, info.shape)) problems.misshaped.push({ name, expected: [...shape], actual: info.shape });
  }
  for (const name of layout.shapes.keys()) {
    if (!storedNames.has(name) && !layout.optional?.has(name)) problems.missing.push(layout.naming.missing(name, stored));
  }
  return { storedNames, problems };
}

/** The MDLM layout of spec §1 for `config`. */
export function mdlmLayout(config: MdlmConfig): TensorLayout {
  return { shapes: expectedTensorShapes(config), naming: MDLM_NAMING };
}

export function hasProblems(problems: LayoutProblems): boolean {
  return problems.missing.length + problems.unexpected.length + problems.misshaped.length > 0;
}

export function describeProblems(problems: LayoutProblems): string {
  const lines: string[] = [];
  if (problems.missing.length > 0) lines.push(`missing tensors: ${problems.missing.join(', ')}`);
  if (problems.unexpected.length > 0) lines.push(`unexpected tensors: ${problems.unexpected.join(', ')}`);
  for (const { name, expected, actual } of problems.misshaped) {
    lines.push(`mis-shaped tensor ${name}: expected [${expected.join(', ')}], found [${actual.join(', ')}]`);
  }
  return lines.join('\n');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}
