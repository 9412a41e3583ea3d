/**
 * Where a one-off command's start-up went, from the process starting to its first forward
 * pass: what --verbose prints. Times on the main thread are on its clock (ms since the process
 * started); the worker reports durations on its own.
 */
import { performance as nodePerformance } from 'node:perf_hooks';
import type { GenerationService, ServiceStartup } from '../generation/index.js';
import { describeProviderChoice } from '../runtime/index.js';

let cliLoadedAtMs: number | undefined;

/** Called first thing in main(): what came before is Node starting and the CLI's imports. */
export function markCliLoaded(): void {
  cliLoadedAtMs ??= performance.now();
}

const ms = (value: number) => `${Math.round(value)} ms`;

function workerPart(worker: ServiceStartup['worker']): string {
  if (worker === undefined) return 'worker';
  const check = worker.check === 'stamp' ? `check ${ms(worker.checkMs)} (stamp of an earlier full check)` : `check ${ms(worker.checkMs)} (hashes and weights in full)`;
  // A prestarted thread loaded onnxruntime while the CLI's imports did; its wall time runs from being given the model.
  const thread = worker.prestarted
    ? `thread and onnxruntime ${ms(worker.threadMs)}, started with the process, then ${ms(worker.waitedMs)} waiting for the model`
    : `thread and onnxruntime ${ms(worker.threadMs)}`;
  return `worker ${ms(worker.wallMs)} (${thread}, read ${ms(worker.readMs)}, ${check}, session ${ms(worker.sessionMs)})`;
}

function startupReport(startup: ServiceStartup, firstPass: { doneAtMs: number; computeMs: number }): string {
  const nodeMs = nodePerformance.nodeTiming.bootstrapComplete;
  const loadedAt = cliLoadedAtMs ?? nodeMs;
  return [
    `start-up: ${(firstPass.doneAtMs / 1000).toFixed(2)} s to the end of the first forward pass:`,
    `node ${ms(nodeMs)}, imports ${ms(loadedAt - nodeMs)}, model resolved ${ms(startup.openedAtMs - loadedAt)},`,
    `then side by side: tokenizer ${ms(startup.tokenizerMs)} | ${workerPart(startup.worker)};`,
    `first pass ${ms(firstPass.computeMs)} (${ms(firstPass.doneAtMs - startup.openedAtMs - startup.runtimeMs)} after the worker was ready)`,
  ].join(' ');
}

/** Prints the provider chosen (and why others were not) and the report to stderr once the service's first pass is done. */
export function reportStartupOnFirstPass(service: GenerationService): void {
  const stop = service.onPass((pass) => {
    stop();
    const { provider, unavailable } = service.status();
    process.stderr.write(`${describeProviderChoice(provider, unavailable)}\n${startupReport(service.startup, { doneAtMs: performance.now(), computeMs: pass.computeMs })}\n`);
  });
}
