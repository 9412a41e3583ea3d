/**
 * Rows → the positions head's input tensors, and its outputs → rows. Entries are laid out
 * flat, every row's draws first and then every row's scores, so no row is padded to the
 * largest request of the batch.
 *
 * Token ids and positions are small non-negative integers, so int64 values are written as
 * the low 32-bit halves of zeroed memory (little-endian) and read back the same way,
 * instead of converting each one through BigInt.
 */
import type { EntryDistribution, PassRow, RowResult } from './pass.js';

export type TensorType = 'int64' | 'float64' | 'float32';
/** The typed arrays tensors are fed as and read back in, across the worker boundary. */
export type TensorArray = BigInt64Array | Float64Array | Float32Array;

export interface FeedTensor {
  type: TensorType;
  data: TensorArray;
  dims: number[];
}

export type Feeds = Record<string, FeedTensor>;

/** Where each row's entries sit in the flat outputs. */
export interface PassLayout {
  rows: { drawStart: number; drawCount: number; scoreStart: number; scoreCount: number }[];
  /** Draw entries, padding included (the head needs at least one). */
  draws: number;
}

/** The positions head fails on a pass with no draw entry, so such a pass draws once at position 0 and ignores it. */
const PADDING_DRAWS = 1;

export function packFeeds(rows: readonly PassRow[], takesSigma: boolean): { feeds: Feeds; layout: PassLayout } {
  const length = rows[0]?.tokens.length ?? 0;
  const layout = planLayout(rows);
  const scoreTotal = layout.rows.reduce((sum, row) => sum + row.scoreCount, 0);
  const inputIds = new BigInt64Array(rows.length * length);
  const drawIndex = new BigInt64Array(layout.draws);
  const drawUniform = new Float64Array(layout.draws).fill(0.5);
  const drawTemperature = new Float32Array(layout.draws).fill(1);
  const drawTopP = new Float32Array(layout.draws).fill(1);
  const drawTopK = new BigInt64Array(layout.draws);
  const scoreIndex = new BigInt64Array(scoreTotal);
  const scoreTarget = new BigInt64Array(scoreTotal);
  const words = (array: BigInt64Array) => new Int32Array(array.buffer);
  const [ids, drawWords, topKWords, scoreWords, targetWords] = [inputIds, drawIndex, drawTopK, scoreIndex, scoreTarget].map(words) as Int32Array[];
  rows.forEach((row, r) => {
    const base = r * length;
    for (let i = 0; i < length; i++) (ids as Int32Array)[2 * (base + i)] = row.tokens[i] as number;
    const place = layout.rows[r] as PassLayout['rows'][number];
    const draws = row.draws;
    if (draws !== undefined) {
      for (let k = 0; k < draws.positions.length; k++) {
        const entry = place.drawStart + k;
        (drawWords as Int32Array)[2 * entry] = base + (draws.positions[k] as number);
        (topKWords as Int32Array)[2 * entry] = draws.topK;
      }
      drawUniform.set(draws.uniforms, place.drawStart);
      drawTemperature.fill(draws.temperature, place.drawStart, place.drawStart + place.drawCount);
      drawTopP.fill(draws.topP, place.drawStart, place.drawStart + place.drawCount);
    }
    const scores = row.scores;
    if (scores !== undefined) {
      const start = place.scoreStart - layout.draws;
      for (let k = 0; k < scores.positions.length; k++) {
        (scoreWords as Int32Array)[2 * (start + k)] = base + (scores.positions[k] as number);
        (targetWords as Int32Array)[2 * (start + k)] = scores.targets[k] as number;
      }
    }
  });
  const feeds: Feeds = {
    input_ids: { type: 'int64', data: inputIds, dims: [rows.length, length] },
    draw_index: { type: 'int64', data: drawIndex, dims: [layout.draws] },
    draw_uniform: { type: 'float64', data: drawUniform, dims: [layout.draws] },
    draw_temperature: { type: 'float32', data: drawTemperature, dims: [layout.draws] },
    draw_top_p: { type: 'float32', data: drawTopP, dims: [layout.draws] },
    draw_top_k: { type: 'int64', data: drawTopK, dims: [layout.draws] },
    score_index: { type: 'int64', data: scoreIndex, dims: [scoreTotal] },
    score_target: { type: 'int64', data: scoreTarget, dims: [scoreTotal] },
  };
  if (takesSigma) feeds.sigma = { type: 'float32', data: Float32Array.from(rows, (row) => row.sigma), dims: [rows.length] };
  return { feeds, layout };
}

function planLayout(rows: readonly PassRow[]): PassLayout {
  const drawCounts = rows.map((row) => row.draws?.positions.length ?? 0);
  const realDraws = drawCounts.reduce((sum, count) => sum + count, 0);
  const draws = realDraws === 0 ? PADDING_DRAWS : realDraws;
  let drawStart = 0;
  let scoreStart = draws;
  return {
    draws,
    rows: rows.map((row, r) => {
      const drawCount = drawCounts[r] as number;
      const scoreCount = row.scores?.positions.length ?? 0;
      const place = { drawStart, drawCount, scoreStart, scoreCount };
      drawStart += drawCount;
      scoreStart += scoreCount;
      return place;
    }),
  };
}

/** The head's outputs, as the worker hands them back. */
export interface HeadOutputs {
  draw_token: BigInt64Array;
  draw_logprob: Float32Array;
  logprob: Float32Array;
  logsumexp: Float32Array;
  top_token: BigInt64Array;
  top_logprob: Float32Array;
}

export function unpackResults(outputs: HeadOutputs, layout: PassLayout): RowResult[] {
  const entries = outputs.logprob.length;
  const topWidth = entries === 0 ? 0 : outputs.top_logprob.length / entries;
  const lowWords = (array: BigInt64Array, start: number, count: number, stride = 1) => {
    const words = new Int32Array(array.buffer, array.byteOffset, array.length * 2);
    const out = new Int32Array(count * stride);
    for (let i = 0; i < out.length; i++) out[i] = words[2 * (start * stride + i)] as number;
    return out;
  };
  const distribution = (start: number, count: number): EntryDistribution => ({
    logprobs: outputs.logprob.slice(start, start + count),
    logsumexp: outputs.logsumexp.slice(start, start + count),
    topTokens: lowWords(outputs.top_token, start, count, topWidth),
    topLogprobs: outputs.top_logprob.slice(start * topWidth, (start + count) * topWidth),
    topWidth,
  });
  return layout.rows.map((place) => ({
    draws: {
      ...distribution(place.drawStart, place.drawCount),
      tokens: lowWords(outputs.draw_token, place.drawStart, place.drawCount),
      sampledLogprobs: outputs.draw_logprob.slice(place.drawStart, place.drawStart + place.drawCount),
    },
    scores: distribution(place.scoreStart, place.scoreCount),
  }));
}

export function transferList(feeds: Feeds): ArrayBuffer[] {
  return Object.values(feeds).map((tensor) => tensor.data.buffer as ArrayBuffer);
}
