import type { SeededRandom } from '../random.js';
import type { MdlmConfig } from './config.js';
import type { TensorToWrite } from './safetensors-writer.js';
import { BACKBONE_PREFIX, expectedTensorShapes } from './tensor-layout.js';

/** Target standard deviation of the logits: a trained LM's masked-token logits spread over a few units. */
const LOGIT_STD = 3;

interface Init {
  mean: number;
  std: number;
}

/**
 * How each synthetic tensor is drawn. The real initialisation zeroes the adaLN modulations
 * and the output layer, which makes every prediction uniform; these scales keep each part
 * live: linear maps preserve activation variance (std 1/√fan_in), modulations shift, scale
 * and gate by a few tenths, and the output layer gives logits a spread of about LOGIT_STD.
 */
function initFor(name: string, config: MdlmConfig): Init | Init[] {
  const D = config.hidden_dim;
  const C = config.cond_dim;
  const fanIn = (n: number): Init => ({ mean: 0, std: 1 / Math.sqrt(n) });
  const smallBias: Init = { mean: 0, std: 0.02 };
  if (name === 'vocab_embed.embedding') return { mean: 0, std: 1 };
  if (name === 'sigma_map.mlp.0.weight') return fanIn(256);
  if (name === 'sigma_map.mlp.2.weight') return fanIn(C);
  if (name.endsWith('adaLN_modulation.weight')) return { mean: 0, std: 0.5 / Math.sqrt(C) };
  if (name.endsWith('adaLN_modulation.bias')) {
    const shiftScale: Init = { mean: 0, std: 0.1 };
    const gate: Init = { mean: 0.5, std: 0.1 };
    return name.startsWith('output_layer') ? [shiftScale, shiftScale] : [shiftScale, shiftScale, gate, shiftScale, shiftScale, gate];
  }
  if (/norm\d?\.weight$|norm_final\.weight$/.test(name)) return { mean: 1, std: 0.1 };
  if (name === 'output_layer.linear.weight') return { mean: 0, std: LOGIT_STD / Math.sqrt(D) };
  if (name === 'output_layer.linear.bias') return { mean: 0, std: 0.1 };
  if (name.endsWith('mlp.2.weight') && name.startsWith('blocks')) return fanIn(4 * D);
  if (name.endsWith('.weight')) return fanIn(D);
  return smallBias;
}

function drawTensor(shape: number[], init: Init | Init[], random: SeededRandom): Float32Array {
  const values = new Float32Array(shape.reduce((product, dim) => product * dim, 1));
  if (!Array.isArray(init)) return random.fillNormal(values, init.mean, init.std);
  // Chunked biases (adaLN): equal slices, each with its own distribution.
  const chunk = values.length / init.length;
  init.forEach((part, index) => random.fillNormal(values.subarray(index * chunk, (index + 1) * chunk), part.mean, part.std));
  return values;
}

/** The tensors of a synthetic checkpoint, drawn lazily in file order from one seeded stream. */
export function safetensorsTensorList(config: MdlmConfig, random: SeededRandom): TensorToWrite[] {
  return [...expectedTensorShapes(config)].map(([name, shape]) => ({
    name: BACKBONE_PREFIX + name,
    shape,
    values: () => drawTensor(shape, initFor(name, config), random),
  }));
}
