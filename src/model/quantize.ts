/**
 * Symmetric quantisation of a matrix product's weights to 7 bits, one scale per output column
 * (MatMulIntegerToFloat takes the column scales as an input and applies them to its integer
 * products), and the 8-bit range of the activations it multiplies.
 *
 * Why 7 bits: onnxruntime's u8×s8 kernel on x86 CPUs without VNNI (AVX2, and AVX-512 before
 * VNNI) multiplies and adds pairs of products into int16 with saturation (vpmaddubsw), and
 * 2 · 255 · 127 = 64 770 overflows it; 2 · 255 · 63 = 32 130 does not. So weights in −63…63
 * give the same exact int32 sums on every x86 CPU (onnxruntime's own quantizer calls this
 * reduce_range). Measured in bench/int8-kernels.ts: as fast as 8-bit weights, where an exact
 * u8×u8 product is 2× slower and s8×s8 has no fast kernel.
 */
export const WEIGHT_LEVELS = 63;
/** Activations are quantised per row to −127…127 and shifted into uint8 around 128. */
export const ACTIVATION_LEVELS = 127;

export interface QuantizedColumns {
  /** [in, out] like the float weights, q = round(w / scale) in −63…63. */
  values: Int8Array;
  /** [out]: max |w| of the column / 63 (1 for an all-zero column, which then stays zero). */
  scales: Float32Array;
}

export function quantizeColumns(weight: Float32Array, inWidth: number, levels = WEIGHT_LEVELS): QuantizedColumns {
  const outWidth = weight.length / inWidth;
  const scales = new Float32Array(outWidth);
  const largest = new Float64Array(outWidth);
  for (let i = 0; i < inWidth; i++) {
    const row = i * outWidth;
    for (let o = 0; o < outWidth; o++) largest[o] = Math.max(largest[o] as number, Math.abs(weight[row + o] as number));
  }
  for (let o = 0; o < outWidth; o++) scales[o] = (largest[o] as number) > 0 ? (largest[o] as number) / levels : 1;
  const values = new Int8Array(weight.length);
  for (let i = 0; i < inWidth; i++) {
    const row = i * outWidth;
    for (let o = 0; o < outWidth; o++) values[row + o] = Math.round((weight[row + o] as number) / (scales[o] as number));
  }
  return { values, scales };
}
