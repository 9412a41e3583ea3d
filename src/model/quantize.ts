/**
 * Symmetric int8 quantisation of a matrix product's weights, one scale per output column
 * (MatMulIntegerToFloat takes the column scales as an input and applies them to its integer
 * products).
 */
export const INT8_LEVELS = 127;

export interface QuantizedColumns {
  /** [in, out] like the float weights, q = round(w / scale) in −127…127. */
  values: Int8Array;
  /** [out]: max |w| of the column / 127 (1 for an all-zero column, which then stays zero). */
  scales: Float32Array;
}

export function quantizeColumns(weight: Float32Array, inWidth: number): QuantizedColumns {
  const outWidth = weight.length / inWidth;
  const scales = new Float32Array(outWidth);
  const largest = new Float64Array(outWidth);
  for (let i = 0; i < inWidth; i++) {
    const row = i * outWidth;
    for (let o = 0; o < outWidth; o++) largest[o] = Math.max(largest[o] as number, Math.abs(weight[row + o] as number));
  }
  for (let o = 0; o < outWidth; o++) scales[o] = (largest[o] as number) > 0 ? (largest[o] as number) / INT8_LEVELS : 1;
  const values = new Int8Array(weight.length);
  for (let i = 0; i < inWidth; i++) {
    const row = i * outWidth;
    for (let o = 0; o < outWidth; o++) values[row + o] = Math.round((weight[row + o] as number) / (scales[o] as number));
  }
  return { values, scales };
}
