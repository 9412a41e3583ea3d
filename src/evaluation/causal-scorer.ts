import { ErrorCodes, MdlmError } from '../errors.js';
import { type AnyExportManifest, familyOfTag, readAnyManifest } from '../families/index.js';
import { type Device, type ExecutionProvider, ForwardRuntime, type PassRow, ProviderOptionsSchema } from '../runtime/index.js';
import type { ScoringWindow } from './gen-ppl.js';

export interface ScorerOptions {
  exportDir: string;
  device: Device;
  /** onnxruntime intra-op threads; defaults to every core. */
  intraOpThreads?: number;
}

/**
 * A causal LM export (GPT-2, positions head) on a worker thread, scoring windows: rows go
 * through ForwardRuntime.execute with score entries, so only each target's log-probability
 * leaves onnxruntime, and only the scored positions go through the output layer.
 */
export class CausalScorer {
  private constructor(
    readonly manifest: AnyExportManifest,
    /** The context: positions the model has embeddings for. */
    readonly context: number,
    readonly eosId: number,
    private readonly runtime: ForwardRuntime,
  ) {}

  static async open(options: ScorerOptions): Promise<CausalScorer> {
    const manifest = await readAnyManifest(options.exportDir);
    const scoring = familyOfTag(manifest)?.sampleScoring;
    if (scoring === undefined) {
      throw new MdlmError(ErrorCodes.invalidArgument, `${options.exportDir} is an ${manifest.architecture} export; generative perplexity needs a causal LM such as GPT-2`);
    }
    if (manifest.head !== 'positions') {
      throw new MdlmError(ErrorCodes.invalidArgument, `${options.exportDir} is a ${manifest.head}-head export; scoring needs the positions head (mdlm export --head positions)`);
    }
    const runtime = await ForwardRuntime.start({
      model: { dir: options.exportDir, files: manifest.files, dtype: manifest.dtype },
      device: options.device,
      providerOptions: ProviderOptionsSchema.parse({}),
      workers: 1,
      intraOpThreads: options.intraOpThreads,
    });
    return new CausalScorer(manifest, scoring.context(manifest), scoring.eosId(manifest), runtime);
  }

  get provider(): ExecutionProvider {
    return this.runtime.provider;
  }

  /**
   * Σ −log p(target) over each window's targets, `batchSize` windows per forward pass. Windows
   * of similar length share a pass (longest first), each padded to the longest of its pass
   * with EOS: the model is causal, so the padding after a window changes none of its scores.
   */
  async score(windows: readonly ScoringWindow[], batchSize: number, onProgress: (done: number, total: number) => void = () => undefined): Promise<Float64Array> {
    const nll = new Float64Array(windows.length);
    const order = windows.map((_, index) => index).sort((a, b) => (windows[b] as ScoringWindow).tokens.length - (windows[a] as ScoringWindow).tokens.length);
    for (let start = 0; start < order.length; start += batchSize) {
      const pass = order.slice(start, start + batchSize);
      const length = (windows[pass[0] as number] as ScoringWindow).tokens.length;
      const rows: PassRow[] = pass.map((index) => {
        const window = windows[index] as ScoringWindow;
        const tokens = new Int32Array(length).fill(this.eosId);
        tokens.set(window.tokens);
        return { tokens, sigma: 0, scores: { positions: window.positions, targets: window.targets } };
      });
      const { results } = await this.runtime.execute(rows);
      results.forEach((result, k) => {
        nll[pass[k] as number] = -result.scores.logprobs.reduce((sum, logprob) => sum + logprob, 0);
      });
      onProgress(Math.min(start + batchSize, order.length), order.length);
    }
    return nll;
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}
