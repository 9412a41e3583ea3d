/**
 * The two heads every architecture ends in. The architecture builds the network up to its
 * final hidden states [B, L, D] and says how rows of them become logits; the head decides
 * what leaves the graph.
 *
 * - `logits`: every logit, [B, L, V]. For verification and exact enumeration in tests.
 * - `positions`: what the engine runs. Only the rows asked for go through the output layer,
 *   and only small per-row results leave onnxruntime, never an [L, V] tensor:
 *
 *   inputs   input_ids        int64  [B, L]
 *            draw_index       int64  [Nd]   flat indices b·L + p of the positions to draw a token at
 *            draw_uniform     double [Nd]   u ∈ (0, 1] for the inverse-CDF draw
 *            draw_temperature float  [Nd]   divides the logits; 0 takes the argmax
 *            draw_top_p       float  [Nd]   nucleus mass; 1 is off
 *            draw_top_k       int64  [Nd]   most likely tokens kept; 0 is off
 *            score_index      int64  [Ns]   flat indices of the positions to score
 *            score_target     int64  [Ns]   the token whose log-probability is wanted there
 *   outputs  draw_token       int64  [Nd]
 *            draw_logprob     float  [Nd]   log-probability under the distribution it was drawn from
 *            logprob          float  [N]    the model's log p of the token (drawn, then targets), N = Nd + Ns
 *            logsumexp        float  [N]    log Σ exp(logits) over the vocabulary (the mask excluded)
 *            top_token        int64  [N, n] the n most likely tokens under the model, n = topWidth(...)
 *            top_logprob      float  [N, n] and their log-probabilities
 *
 *   "The model's distribution" is softmax(logits) with the mask token at probability zero
 *   (SUBS) and no temperature or truncation, as vLLM reports logprobs by default; draws use
 *   temperature, then top-k, then top-p on the tempered distribution (ties at the cut are all
 *   kept), and an inverse CDF accumulated in float64.
 */
import type { GraphBuilder } from './graph-builder.js';
import { OnnxDataType } from './onnx-proto.js';

export const EXPORT_HEADS = ['positions', 'logits'] as const;
export type ExportHead = (typeof EXPORT_HEADS)[number];

/** OpenAI's completions API returns at most 5 alternatives per token. */
export const MAX_TOP_LOGPROBS = 5;

/** The alternatives a positions head returns per entry: 5, or fewer for a vocabulary that small. */
export function topWidth(vocabSize: number, maskIndex: number | undefined): number {
  return Math.min(MAX_TOP_LOGPROBS, vocabSize - (maskIndex === undefined ? 0 : 1));
}

export interface HeadInputs {
  /** Final hidden states [B, L, width], float32. */
  features: string;
  width: number;
  vocabSize: number;
  /** The token SUBS gives probability zero; undefined for models without one. */
  maskIndex: number | undefined;
  /** Rows [..., width] → logits [..., vocabSize], float32. */
  project: (rows: string) => string;
}

export function buildHead(b: GraphBuilder, head: ExportHead, inputs: HeadInputs): void {
  if (head === 'logits') buildLogitsHead(b, inputs);
  else buildPositionsHead(b, inputs);
}

function buildLogitsHead(b: GraphBuilder, inputs: HeadInputs): void {
  b.node('Identity', [inputs.project(inputs.features)], { outputs: ['logits'] });
  b.output('logits', 'float', ['batch', 'length', inputs.vocabSize]);
}

function buildPositionsHead(b: GraphBuilder, inputs: HeadInputs): void {
  const draw = {
    index: b.input('draw_index', 'int64', ['draws']),
    uniform: b.input('draw_uniform', 'double', ['draws']),
    temperature: b.input('draw_temperature', 'float', ['draws']),
    topP: b.input('draw_top_p', 'float', ['draws']),
    topK: b.input('draw_top_k', 'int64', ['draws']),
  };
  const scoreIndex = b.input('score_index', 'int64', ['scores']);
  const scoreTarget = b.input('score_target', 'int64', ['scores']);
  b.scoped('head', () => {
    const flat = b.op('Reshape', [inputs.features, b.int64s('rows_shape', [-1, inputs.width])]);
    const rows = b.op('Gather', [flat, b.op('Concat', [draw.index, scoreIndex], { attributes: { axis: 0 } })], { attributes: { axis: 0 } });
    let logits = inputs.project(rows);
    if (inputs.maskIndex !== undefined) {
      const maskBias = new Float32Array(inputs.vocabSize);
      maskBias[inputs.maskIndex] = -Infinity;
      logits = b.op('Add', [logits, b.floats('mask_bias', maskBias)]);
    }
    const drawCount = b.op('Shape', [draw.index]);
    const drawLogits = b.op('Slice', [logits, b.int64s('zero', [0]), drawCount, b.int64s('axis0', [0])]);
    const drawn = b.scoped('draw', () => drawTokens(b, drawLogits, draw, inputs.vocabSize));
    const tokens = b.op('Concat', [drawn, scoreTarget], { attributes: { axis: 0 } });
    modelDistribution(b, logits, tokens, topWidth(inputs.vocabSize, inputs.maskIndex));
  });
  b.output('draw_token', 'int64', ['draws']);
  b.output('draw_logprob', 'float', ['draws']);
  b.output('logprob', 'float', ['entries']);
  b.output('logsumexp', 'float', ['entries']);
  b.output('top_token', 'int64', ['entries', 'top']);
  b.output('top_logprob', 'float', ['entries', 'top']);
}

interface DrawInputs {
  uniform: string;
  temperature: string;
  topP: string;
  topK: string;
}

/** One token per draw entry from the tempered, truncated distribution; writes draw_token and draw_logprob, returns the tokens. */
function drawTokens(b: GraphBuilder, logits: string, draw: DrawInputs, vocabSize: number): string {
  const lastAxis = b.int64s('last_axis', [-1]);
  const column = (x: string) => b.op('Unsqueeze', [x, b.int64s('axis1', [1])]);
  const greedy = b.op('Not', [b.op('Greater', [draw.temperature, b.floats('zero', [0], [])])]);
  const scaled = b.op('Div', [logits, column(b.op('Where', [greedy, b.floats('one', [1], []), draw.temperature]))]);
  const wide = b.op('Cast', [scaled], { attributes: { to: OnnxDataType.double } });
  const weights = b.op('Exp', [b.op('Sub', [wide, b.op('ReduceMax', [wide, lastAxis], { attributes: { keepdims: 1 } })])]);
  const kept = truncate(b, weights, draw, vocabSize);
  const cdf = b.op('CumSum', [kept, b.int64s('cumsum_axis', [-1], [])]);
  const total = b.op('Slice', [cdf, lastAxis, b.int64s('end', [Number.MAX_SAFE_INTEGER]), lastAxis]);
  // The drawn index is the number of CDF entries strictly below u·total: a zero-weight token can never be it.
  const target = b.op('Mul', [column(draw.uniform), total]);
  const below = b.op('Cast', [b.op('Less', [cdf, target])], { attributes: { to: OnnxDataType.float } });
  const sampled = b.op('Cast', [b.op('ReduceSum', [below, lastAxis], { attributes: { keepdims: 0 } })], { attributes: { to: OnnxDataType.int64 } });
  const argmax = b.op('ArgMax', [scaled], { attributes: { axis: -1, keepdims: 0 } });
  const tokens = b.op('Where', [greedy, argmax, sampled]);
  const chosen = b.op('GatherElements', [kept, column(tokens)], { attributes: { axis: 1 } });
  const logprob = b.op('Squeeze', [b.op('Sub', [b.op('Log', [chosen]), b.op('Log', [total])]), b.int64s('axis1', [1])]);
  b.node('Identity', [tokens], { outputs: ['draw_token'] });
  b.node('Cast', [logprob], { outputs: ['draw_logprob'], attributes: { to: OnnxDataType.float } });
  return tokens;
}

/**
 * Zeroes the weights of tokens outside the top-k, then outside the nucleus of what is left.
 * Sorting costs far more than the draw itself, so the graph sorts only as deep as the batch
 * needs: the whole vocabulary when some entry uses top-p, the largest k when only top-k is
 * used, one element when neither is.
 */
function truncate(b: GraphBuilder, weights: string, draw: DrawInputs, vocabSize: number): string {
  const lastAxis = b.int64s('last_axis', [-1]);
  const column = (x: string) => b.op('Unsqueeze', [x, b.int64s('axis1', [1])]);
  const int64 = (x: string) => b.op('Cast', [x], { attributes: { to: OnnxDataType.int64 } });
  const probabilities = b.op('Div', [weights, b.op('ReduceSum', [weights, lastAxis], { attributes: { keepdims: 1 } })]);
  const vocab = b.int64s('vocab', [vocabSize], []);
  const one = b.int64s('one', [1], []);
  const topKOn = b.op('Greater', [draw.topK, b.int64s('zero', [0], [])]);
  const topPOn = b.op('Less', [draw.topP, b.floats('one', [1], [])]);
  const keepK = b.op('Where', [topKOn, b.op('Min', [draw.topK, vocab]), vocab]);
  const anyTopP = b.op('Greater', [b.op('ReduceMax', [int64(topPOn)], { attributes: { keepdims: 0 } }), b.int64s('zero', [0], [])]);
  // The extra 1 keeps the maximum defined when there are no draws.
  const deepestTopK = b.op('ReduceMax', [b.op('Concat', [b.op('Where', [topKOn, keepK, one]), b.int64s('one_list', [1])], { attributes: { axis: 0 } })], { attributes: { keepdims: 0 } });
  const depth = b.op('Reshape', [b.op('Where', [anyTopP, vocab, deepestTopK]), b.int64s('one_shape', [1])]);
  const [sorted] = b.node('TopK', [probabilities, depth], { outputs: 2, attributes: { axis: -1, largest: 1, sorted: 1 } }) as [string, string];
  const cumulative = b.op('CumSum', [sorted, b.int64s('cumsum_axis', [-1], [])]);
  const clampDepth = (count: string) => b.op('Sub', [b.op('Min', [count, depth]), one]);
  // top-p acts on the distribution top-k left: the nucleus holds a top_p share of the top-k mass.
  const topKMass = b.op('Where', [column(topKOn), b.op('GatherElements', [cumulative, column(clampDepth(keepK))], { attributes: { axis: 1 } }), b.doubles('one', [1], [])]);
  const nucleusMass = b.op('Mul', [column(b.op('Cast', [draw.topP], { attributes: { to: OnnxDataType.double } })), topKMass]);
  const inNucleus = b.op('ReduceSum', [int64(b.op('LessOrEqual', [cumulative, nucleusMass])), lastAxis], { attributes: { keepdims: 0 } });
  const keepP = b.op('Min', [b.op('Max', [inNucleus, one]), keepK]);
  const keep = b.op('Where', [topPOn, keepP, keepK]);
  const cut = b.op('GatherElements', [sorted, column(clampDepth(keep))], { attributes: { axis: 1 } });
  const threshold = b.op('Where', [column(b.op('Or', [topKOn, topPOn])), cut, b.doubles('zero', [0], [])]);
  return b.op('Where', [b.op('GreaterOrEqual', [probabilities, threshold]), weights, b.doubles('zero', [0], [])]);
}

/** The model's own distribution at every entry: the token's log-probability, the normaliser and the top alternatives. */
function modelDistribution(b: GraphBuilder, logits: string, tokens: string, width: number): void {
  const lastAxis = b.int64s('last_axis', [-1]);
  const peak = b.op('ReduceMax', [logits, lastAxis], { attributes: { keepdims: 1 } });
  const logNormaliser = b.op('Add', [peak, b.op('Log', [b.op('ReduceSum', [b.op('Exp', [b.op('Sub', [logits, peak])]), lastAxis], { attributes: { keepdims: 1 } })])]);
  const tokenLogit = b.op('GatherElements', [logits, b.op('Unsqueeze', [tokens, b.int64s('axis1', [1])])], { attributes: { axis: 1 } });
  b.node('Squeeze', [b.op('Sub', [tokenLogit, logNormaliser]), b.int64s('axis1', [1])], { outputs: ['logprob'] });
  b.node('Squeeze', [logNormaliser, b.int64s('axis1', [1])], { outputs: ['logsumexp'] });
  const [values, indices] = b.node('TopK', [logits, b.int64s('top_width', [width])], { outputs: 2, attributes: { axis: -1, largest: 1, sorted: 1 } }) as [string, string];
  b.node('Identity', [indices], { outputs: ['top_token'] });
  b.node('Sub', [values, logNormaliser], { outputs: ['top_logprob'] });
}
