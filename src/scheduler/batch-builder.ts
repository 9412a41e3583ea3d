import type { ForwardBatch } from '../runtime/index.js';
import type { PassRequest } from '../sampling/index.js';

/**
 * Packs the passes of several sequences into one batch. Token ids are small non-negative
 * integers, so int64 values are written as their low 32-bit halves into zeroed memory
 * (little-endian) instead of converting every id through BigInt.
 */
export function buildBatch(passes: { pass: PassRequest; canvas: Int32Array }[], timeConditioned: boolean): ForwardBatch {
  const rows = passes.length;
  const length = (passes[0] as { pass: PassRequest }).pass.windowLength;
  // A pass with nothing to draw (a ddpm step that unmasks nothing) still needs K ≥ 1.
  const positionsPerRow = Math.max(1, ...passes.map(({ pass }) => pass.positions.length));
  const inputIds = new BigInt64Array(rows * length);
  const positions = new BigInt64Array(rows * positionsPerRow);
  const uniforms = new Float64Array(rows * positionsPerRow).fill(0.5);
  const temperature = new Float32Array(rows);
  const sigma = timeConditioned ? new Float32Array(rows) : undefined;
  const idWords = new Int32Array(inputIds.buffer);
  const positionWords = new Int32Array(positions.buffer);
  passes.forEach(({ pass, canvas }, row) => {
    const window = canvas.subarray(pass.windowStart, pass.windowStart + length);
    for (let i = 0; i < length; i++) idWords[2 * (row * length + i)] = window[i] as number;
    const base = row * positionsPerRow;
    for (let k = 0; k < pass.positions.length; k++) positionWords[2 * (base + k)] = pass.positions[k] as number;
    uniforms.set(pass.uniforms, base);
    temperature[row] = pass.temperature;
    if (sigma !== undefined) sigma[row] = pass.sigma;
  });
  return { rows, length, positionsPerRow, inputIds, positions, uniforms, temperature, ...(sigma ? { sigma } : {}) };
}

/** The tokens of one row, as numbers (low words of the int64 results). */
export function rowTokens(tokens: BigInt64Array, row: number, positionsPerRow: number, count: number): Int32Array {
  const words = new Int32Array(tokens.buffer, tokens.byteOffset, tokens.length * 2);
  const out = new Int32Array(count);
  for (let k = 0; k < count; k++) out[k] = words[2 * (row * positionsPerRow + k)] as number;
  return out;
}
