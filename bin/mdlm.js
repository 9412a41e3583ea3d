#!/usr/bin/env node
import { prestartWorkerThread } from '../dist/runtime/worker-thread.js';

// A command that opens a model starts its inference thread first, so that onnxruntime loads while the CLI's modules do.
const OPENS_A_MODEL = new Set(['generate', 'score', 'eval', 'serve', 'bench']);
// `bench http` loads a server elsewhere: a thread loading onnxruntime would only take the load generator's CPU.
const loadsAServer = process.argv[2] === 'bench' && process.argv[3] === 'http';
if (OPENS_A_MODEL.has(process.argv[2] ?? '') && !loadsAServer) prestartWorkerThread();
const { main } = await import('../dist/cli/main.js');

main(process.argv).then((code) => {
  process.exitCode = code;
});
