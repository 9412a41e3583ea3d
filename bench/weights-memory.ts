/**
 * What holding the weights costs: the resident memory of `mdlm serve` (all its threads) once
 * every worker's session is built, and after one request, for synthetic models of a few
 * shapes and 1 or 2 inference workers. RssAnon is memory the process owns; RssFile is file
 * pages it has mapped (the page cache's, shared and reclaimable).
 *
 *   node --import tsx bench/weights-memory.ts [--shapes tiny,small] [--workers 1,2]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SYNTH_PRESETS } from '../src/checkpoint/synth.js';
import { DATA_FILE } from '../src/model/manifest.js';
import { type ProcessMemory, benchExport, machineLine, memoryOf } from './support.js';

const CLI = join(import.meta.dirname, '..', 'bin', 'mdlm.js');
const names = z.string().transform((text) => text.split(','));
const Args = z.object({
  shapes: names.pipe(z.array(z.enum(['tiny', 'small', 'owt']))).default(['tiny', 'small']),
  workers: z
    .string()
    .transform((text) => text.split(',').map(Number))
    .pipe(z.array(z.number().int().min(1).max(8)))
    .default([1, 2]),
});


/** `mdlm serve` until it says where it listens. */
async function serve(exportDir: string, workers: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', exportDir, '--device', 'cpu', '--port', '0', '--workers', String(workers), '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const address = /listening on (http:\/\/[\d.:]+)/.exec(line)?.[1];
    if (address !== undefined) return { child, url: address };
  }
  throw new Error('mdlm serve exited before it listened');
}

/** Resident memory once the server is ready (every worker's session built), and after one request. */
async function measure(exportDir: string, workers: number): Promise<{ ready: ProcessMemory; served: ProcessMemory }> {
  const { child, url } = await serve(exportDir, workers);
  try {
    const ready = memoryOf(child.pid as number);
    const request = { steps: 8, sampler: 'ddpm', num_samples: 1, seed: 1 };
    await (await fetch(`${url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })).text();
    return { ready, served: memoryOf(child.pid as number) };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { shapes: { type: 'string' }, workers: { type: 'string' } } });
  const args = Args.parse(values);
  const work = mkdtempSync(join(tmpdir(), 'mdlm-weights-'));
  try {
    console.log(`${machineLine()}\n`);
    console.log('| shape | weights MB | workers | ready: RSS / anon / file MB | after a request: RSS / anon / file MB |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const shape of args.shapes) {
      const exportDir = await benchExport(work, shape, SYNTH_PRESETS[shape]);
      const weightsMb = Math.round(statSync(join(exportDir, DATA_FILE)).size / 1e6);
      for (const workers of args.workers) {
        const { ready, served } = await measure(exportDir, workers);
        const cells = (memory: ProcessMemory) => `${memory.rss} / ${memory.anon} / ${memory.file}`;
        console.log(`| ${shape} | ${weightsMb} | ${workers} | ${cells(ready)} | ${cells(served)} |`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
