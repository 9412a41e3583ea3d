/** Small dense linear algebra for what the exporter precomputes (conditioning, folding). */

/** y = W·x + b with W stored [out, in] as PyTorch does; accumulates in float64. */
export function linear(weight: Float32Array, bias: Float32Array | undefined, x: Float64Array): Float64Array {
  const inWidth = x.length;
  const outWidth = weight.length / inWidth;
  const y = new Float64Array(outWidth);
  for (let o = 0; o < outWidth; o++) {
    let sum = bias === undefined ? 0 : (bias[o] as number);
    const row = o * inWidth;
    for (let i = 0; i < inWidth; i++) sum += (weight[row + i] as number) * (x[i] as number);
    y[o] = sum;
  }
  return y;
}

export function silu(x: Float64Array): Float64Array {
  return x.map((v) => v / (1 + Math.exp(-v)));
}

/**
 * PyTorch [out, in] → MatMul's [in, out], optionally multiplying output column o by
 * `columnScale[o]` (folding a constant gate into the weights).
 */
export function transposeForMatMul(weight: Float32Array, inWidth: number, columnScale?: Float64Array): Float32Array {
  const outWidth = weight.length / inWidth;
  const result = new Float32Array(weight.length);
  for (let o = 0; o < outWidth; o++) {
    const scale = columnScale === undefined ? 1 : (columnScale[o] as number);
    const row = o * inWidth;
    for (let i = 0; i < inWidth; i++) result[i * outWidth + o] = (weight[row + i] as number) * scale;
  }
  return result;
}

/** The equal chunks of a modulation vector (shift, scale, gate, ...). */
export function chunks(values: Float64Array, count: number): Float64Array[] {
  const width = values.length / count;
  return Array.from({ length: count }, (_, i) => values.subarray(i * width, (i + 1) * width));
}

export function toFloat32(values: ArrayLike<number>): Float32Array {
  return Float32Array.from(values);
}
