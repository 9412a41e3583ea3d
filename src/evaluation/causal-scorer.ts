import { ErrorCodes, MdlmError } from '../errors.js';
import { type AnyExportManifest, familyOfTag, readAnyManifest } from '../families/index.js';
import { type Device, type ExecutionProvider, ForwardRuntime, type PassRow, ProviderOptionsSchema } from '../runtime/index.js';
import type { ScoringWindow } from './gen-ppl.js';
import { type WindowScorer, paddedRows } from './window-scorer.js';

export interface ScorerOptions {
  exportDir: string;
  device: Device;
  /** onnxruntime intra-op threads; defaults to every core. */
  intraOpThreads?: number;
}

/**
 * A causal LM export on a worker thread, scoring windows: GPT-2, the seed's evaluation model, or
 * the seed's AR baseline (what a server's /v1/score serves as a causal model, so that a local
 * run can be compared with one sent to --server). Rows go through ForwardRuntime.execute with
 * score entries, so only each target's log-probability leaves onnxruntime, and only the scored
 * positions go through the output layer.
 */
export class CausalScorer implements WindowScorer {
  private constructor(
    readonly manifest: AnyExportManifest,
    private readonly runtime: ForwardRuntime,
    /** The context: positions the model has embeddings for. */
    readonly context: number,
    readonly eosId: number,
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
    const eosId = await scoring.eosId(manifest, options.exportDir);
    const runtime = await ForwardRuntime.start({
      model: { dir: options.exportDir, files: manifest.files, dtype: manifest.dtype },
      device: options.device,
      providerOptions: ProviderOptionsSchema.parse({}),
      workers: 1,
      intraOpThreads: options.intraOpThreads,
    });
    return new CausalScorer(manifest, runtime, scoring.context(manifest), eosId);
  }

  get provider(): ExecutionProvider {
    return this.runtime.provider;
  }

  /** The windows of `passes` (planPasses), each pass padded to its longest window with EOS; the others are NaN. */
  async score(windows: readonly ScoringWindow[], passes: readonly number[][], onProgress: (done: number, total: number) => void = () => undefined): Promise<Float64Array> {
    const nll = new Float64Array(windows.length).fill(Number.NaN);
    const total = passes.reduce((sum, pass) => sum + pass.length, 0);
    let done = 0;
    for (const pass of passes) {
      const padded = paddedRows(windows, pass, this.eosId);
      const rows: PassRow[] = pass.map((index, k) => {
        const window = windows[index] as ScoringWindow;
        return { tokens: padded[k] as Int32Array, sigma: 0, scores: { positions: window.positions, targets: window.targets } };
      });
      const { results } = await this.runtime.execute(rows);
      results.forEach((result, k) => {
        nll[pass[k] as number] = -result.scores.logprobs.reduce((sum, logprob) => sum + logprob, 0);
      });
      done += pass.length;
      onProgress(done, total);
    }
    return nll;
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}

