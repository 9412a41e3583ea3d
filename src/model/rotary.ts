/**
 * The rotary tables exactly as the original PyTorch code computes them, in float32 at every
 * step: the checkpoint was trained with these values, and at position 1023 the angle's
 * float32 rounding alone moves cos/sin by ~6e-5, more than our parity tolerance.
 */
export function rotaryTables(length: number, headWidth: number): { cos: Float32Array; sin: Float32Array } {
  const half = headWidth / 2;
  const invFreq = new Float32Array(half);
  for (let j = 0; j < half; j++) {
    const exponent = Math.fround(Math.fround(2 * j) / headWidth);
    invFreq[j] = Math.fround(1 / Math.fround(10000 ** exponent));
  }
  const cos = new Float32Array(length * half);
  const sin = new Float32Array(length * half);
  for (let p = 0; p < length; p++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(p * (invFreq[j] as number));
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
