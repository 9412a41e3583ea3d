/**
 * Weights that are not numbers: a NaN anywhere in a network makes every logit NaN, and the
 * sampler then draws the same token everywhere, silently. -Infinity is allowed where asked,
 * for additive masks (the positions head adds it to the mask token's logit).
 */
export interface NonFinite {
  /** Index of the first offending element, and its value. */
  first: number;
  value: number;
  /** Offending elements in all. */
  count: number;
}

export function findNonFinite(values: Float32Array, allowNegativeInfinity = false): NonFinite | undefined {
  let found: NonFinite | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (value - value === 0 || (allowNegativeInfinity && value === -Infinity)) continue;
    if (found === undefined) found = { first: i, value, count: 0 };
    found.count++;
  }
  return found;
}

const HALF_EXPONENT = 0x7c00;
const HALF_MANTISSA = 0x03ff;
const HALF_SIGN = 0x8000;

/** The same for IEEE float16 values, given as their bits. */
export function findNonFiniteHalf(bits: Uint16Array, allowNegativeInfinity = false): NonFinite | undefined {
  let found: NonFinite | undefined;
  for (let i = 0; i < bits.length; i++) {
    const half = bits[i] as number;
    if ((half & HALF_EXPONENT) !== HALF_EXPONENT) continue;
    const value = (half & HALF_MANTISSA) !== 0 ? Number.NaN : half & HALF_SIGN ? -Infinity : Infinity;
    if (allowNegativeInfinity && value === -Infinity) continue;
    if (found === undefined) found = { first: i, value, count: 0 };
    found.count++;
  }
  return found;
}

/** "NaN at element 12 (40 of 3072 values are not finite)". */
export function describeNonFinite(found: NonFinite, total: number): string {
  return `${found.value} at element ${found.first} (${found.count} of ${total} values are not finite)`;
}
