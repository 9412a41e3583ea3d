/**
 * What scores gen PPL's windows (a causal LM: each target given the tokens before it), and the
 * passes it runs them in: a local model (CausalScorer) or a server (ServerWindowScorer), both
 * with the same passes, so that they give the same figures, and a shard of a run runs exactly
 * the passes the whole run would.
 */
import { type MdlmClient, mapConcurrently } from '../client/index.js';
import { ErrorCodes, MdlmError } from '../errors.js';
import { servingFamilyReportedAs } from '../families/index.js';
import type { ScoringWindow } from './gen-ppl.js';

export interface WindowScorer {
  /** The context: positions the model has embeddings for. */
  readonly context: number;
  readonly eosId: number;
  /** Where it runs, for the report: an execution provider, or the server's URL. */
  readonly provider: string;
  /**
   * Σ −log p(target) over each window's targets, for the windows of the passes `select` keeps
   * (the others are NaN); `passes` comes from planPasses.
   */
  score(windows: readonly ScoringWindow[], passes: readonly number[][], onProgress?: (done: number, total: number) => void): Promise<Float64Array>;
  close(): Promise<void>;
}

/**
 * The windows of each forward pass: longest first, `batchSize` per pass, so that windows of
 * similar length share one; each is padded with EOS to the longest of its pass (the model is
 * causal, so the padding after a window changes none of its scores).
 */
export function planPasses(windows: readonly ScoringWindow[], batchSize: number): number[][] {
  const order = windows.map((_, index) => index).sort((a, b) => (windows[b] as ScoringWindow).tokens.length - (windows[a] as ScoringWindow).tokens.length);
  return Array.from({ length: Math.ceil(order.length / batchSize) }, (_, pass) => order.slice(pass * batchSize, (pass + 1) * batchSize));
}

/** A pass's windows as rows of the pass's length, padded with EOS. */
export function paddedRows(windows: readonly ScoringWindow[], pass: readonly number[], eosId: number): Int32Array[] {
  const length = (windows[pass[0] as number] as ScoringWindow).tokens.length;
  return pass.map((index) => {
    const tokens = new Int32Array(length).fill(eosId);
    tokens.set((windows[index] as ScoringWindow).tokens);
    return tokens;
  });
}

/**
 * Windows scored by a running server whose model is causal: each pass is one /v1/score request
 * of the same padded rows (method ar: each token given those before it, the first token as
 * context), and a window's score is the sum of its counted targets' token_nll. The model is
 * causal, so the figures are the local run's (to the last bit on this CPU, when each pass has
 * the server to itself: see the README's "Running at scale").
 */
export class ServerWindowScorer implements WindowScorer {
  private constructor(
    private readonly client: MdlmClient,
    readonly context: number,
    readonly eosId: number,
    private readonly concurrency: number,
  ) {}

  static async open(client: MdlmClient, concurrency: number): Promise<ServerWindowScorer> {
    const model = await client.model();
    if (servingFamilyReportedAs(model.parameterization).sampleScoring === undefined) {
      throw new MdlmError(
        ErrorCodes.unsupportedModel,
        `the server at ${client.url} serves ${model.id}, a ${model.parameterization} model; generative perplexity needs a causal LM (parameterization ar)`,
      );
    }
    const { eosId } = await client.specialIds();
    if (eosId === undefined)
      throw new MdlmError(ErrorCodes.tokenizerError, `the server's tokenizer declares no eos_token, which the seed's padding and counting need`);
    return new ServerWindowScorer(client, model.model_length, eosId, concurrency);
  }

  get provider(): string {
    return this.client.url;
  }

  async score(
    windows: readonly ScoringWindow[],
    passes: readonly number[][],
    onProgress: (done: number, total: number) => void = () => undefined,
  ): Promise<Float64Array> {
    const nll = new Float64Array(windows.length).fill(Number.NaN);
    let done = 0;
    await mapConcurrently(passes, this.concurrency, async (pass) => {
      // /v1/score scores the ids it is given: each row also carries its last target, so it runs one position longer than a local pass.
      const rows = paddedRows(windows, pass, this.eosId).map((row, k) => [...row, (windows[pass[k] as number] as ScoringWindow).targets.at(-1) as number]);
      const scored = await this.client.score({
        items: rows.map((row) => ({ token_ids: row.slice(1), context: [row[0] as number] })),
        method: 'ar',
        add_special_tokens: false,
      });
      pass.forEach((index, k) => {
        const tokenNll = scored.items[k]?.token_nll ?? [];
        // token_nll[p] is the target at p + 1, predicted at p: the counted positions' sum, in their order.
        nll[index] = Array.from((windows[index] as ScoringWindow).positions, (p) => tokenNll[p] as number).reduce((sum, value) => sum + value, 0);
      });
      done += pass.length;
      onProgress(
        done,
        passes.reduce((sum, each) => sum + each.length, 0),
      );
    });
    return nll;
  }

  async close(): Promise<void> {}
}
