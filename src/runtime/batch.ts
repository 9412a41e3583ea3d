/** One batched forward pass of the sample head, as typed arrays that cross threads by transfer. */
export interface ForwardBatch {
  rows: number;
  length: number;
  /** Positions drawn per row (rows with fewer are padded and their extra draws discarded). */
  positionsPerRow: number;
  inputIds: BigInt64Array;
  positions: BigInt64Array;
  uniforms: Float64Array;
  temperature: Float32Array;
  /** Only for time-conditioned models. */
  sigma?: Float32Array;
}

export interface ForwardResult {
  tokens: BigInt64Array;
  logprobs: Float32Array;
  /** Time onnxruntime spent in session.run, on the worker. */
  computeMs: number;
}

export function transferList(batch: ForwardBatch): ArrayBuffer[] {
  const arrays = [batch.inputIds, batch.positions, batch.uniforms, batch.temperature, ...(batch.sigma ? [batch.sigma] : [])];
  return arrays.map((array) => array.buffer as ArrayBuffer);
}
