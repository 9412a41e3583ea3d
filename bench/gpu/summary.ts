/**
 * The GPU bench's one table: reads the JSON lines that bench/forward.ts, torch_reference.py and
 * run.sh appended to a results file and prints every measurement, with our forward pass's time
 * over PyTorch's (bfloat16, same shape, same GPU) and generation beside the seed's table.
 *
 *   node bench/gpu/summary.js RESULTS.jsonl
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const Forward = z.object({
  kind: z.literal('forward'),
  device: z.string(),
  head: z.enum(['positions', 'logits']),
  dtype: z.string(),
  fused: z.boolean(),
  batch: z.number(),
  length: z.number(),
  outputRows: z.number(),
  ms: z.number(),
  gflop: z.number(),
});
const Matmul = z.object({ kind: z.literal('matmul'), device: z.string(), dtype: z.string(), size: z.number(), ms: z.number(), gflop: z.number() });
const Torch = z.object({
  kind: z.literal('torch'),
  mode: z.enum(['positions', 'logits', 'matmul']),
  gpu: z.string(),
  batch: z.number(),
  length: z.number(),
  outputRows: z.number(),
  ms: z.number(),
  gflop: z.number(),
});
const Generate = z.object({
  kind: z.literal('generate'),
  device: z.string(),
  dtype: z.string(),
  steps: z.number(),
  length: z.number(),
  samples: z.number(),
  wallMs: z.number(),
  forwardPasses: z.number(),
});
const Http = z.object({
  kind: z.literal('http'),
  device: z.string(),
  dtype: z.string(),
  endpoint: z.string(),
  maxTokens: z.number(),
  steps: z.number(),
  concurrency: z.number(),
  durationS: z.number(),
  completed: z.number(),
  requestsPerSecond: z.number(),
  p50Ms: z.number(),
  p99Ms: z.number(),
  non2xx: z.number(),
  errors: z.number(),
  rowsPerPass: z.number(),
});
const Machine = z.object({ kind: z.literal('machine'), description: z.string() });
const Skip = z.object({ kind: z.literal('skip'), what: z.string(), reason: z.string() });
const Line = z.discriminatedUnion('kind', [Forward, Matmul, Torch, Generate, Http, Machine, Skip]);
type Line = z.infer<typeof Line>;

/** The seed's ddpm_cache wall clock (spec §4): 64 samples at batch size 1, L = 1024, one A5000. */
const SEED_SECONDS_PER_SAMPLE = new Map([
  [5000, 40.1 / 64],
  [10000, 60.4 / 64],
]);

interface Row {
  measurement: string;
  provider: string;
  dtype: string;
  batch?: number;
  length?: number;
  steps?: number;
  passes?: number;
  ms?: number;
  gflops?: number;
  vsTorch?: string;
  note?: string;
}

const rate = (gflop: number, ms: number) => gflop / (ms / 1000);
type TorchLine = z.infer<typeof Torch>;
type SkipLine = z.infer<typeof Skip>;
type MeasuredLine = Exclude<Line, SkipLine | z.infer<typeof Machine>>;

function rows(lines: Line[]): Row[] {
  const torch = lines.filter((line): line is TorchLine => line.kind === 'torch');
  const measured = lines.flatMap((line) => (line.kind === 'skip' || line.kind === 'machine' ? [] : [measuredRow(line, torch)]));
  return [...measured, ...skippedRows(lines.filter((line): line is SkipLine => line.kind === 'skip'))];
}

function measuredRow(line: MeasuredLine, torch: TorchLine[]): Row {
  switch (line.kind) {
    case 'matmul':
      return { measurement: `MatMul ${line.size}³ (onnxruntime)`, provider: line.device, dtype: line.dtype, ms: line.ms, gflops: rate(line.gflop, line.ms) };
    case 'torch':
      return {
        measurement: line.mode === 'matmul' ? `MatMul ${line.length}³ (PyTorch)` : `PyTorch forward, ${line.mode === 'logits' ? 'all logits' : `${line.outputRows} output row(s)`}`,
        provider: line.gpu,
        dtype: 'bf16',
        ...(line.mode === 'matmul' ? {} : { batch: line.batch, length: line.length }),
        ms: line.ms,
        gflops: rate(line.gflop, line.ms),
      };
    case 'forward': {
      const reference = torch.find((t) => t.mode === line.head && t.batch === line.batch && t.length === line.length);
      return {
        measurement: `forward, ${line.head} head${line.fused ? '' : ' (standard ops)'}`,
        provider: line.device,
        dtype: line.dtype,
        batch: line.batch,
        length: line.length,
        ms: line.ms,
        gflops: rate(line.gflop, line.ms),
        vsTorch: reference === undefined ? undefined : `${(line.ms / reference.ms).toFixed(2)}×`,
      };
    }
    case 'generate': {
      // The seed's table is for L = 1024; a dry run's smaller window has nothing to compare with.
      const seed = line.length === 1024 ? SEED_SECONDS_PER_SAMPLE.get(line.steps) : undefined;
      const perSample = line.wallMs / 1000 / line.samples;
      return {
        measurement: `generate ddpm_cache, ${line.samples} sample(s) at batch 1`,
        provider: line.device,
        dtype: line.dtype,
        length: line.length,
        steps: line.steps,
        passes: line.forwardPasses,
        ms: line.wallMs / line.samples,
        note: `${(line.wallMs / line.forwardPasses).toFixed(1)} ms/pass${seed === undefined ? '' : `; seed (A5000, ddpm_cache): ${seed.toFixed(2)} s/sample, ours ${perSample.toFixed(2)} s`}`,
      };
    }
    case 'http':
      return httpRow(line);
  }
}

function httpRow(line: z.infer<typeof Http>): Row {
  const failed = line.non2xx + line.errors;
  const row = { measurement: `${line.endpoint} under autocannon, ${line.concurrency} connection(s), max_tokens ${line.maxTokens}`, provider: line.device, dtype: line.dtype, steps: line.steps };
  if (line.completed === 0) return { ...row, note: `no request completed in ${line.durationS} s${failed === 0 ? '' : `; ${failed} failed`}` };
  const rate = `${line.requestsPerSecond.toFixed(2)} req/s, ${(line.requestsPerSecond * line.maxTokens).toFixed(0)} tokens/s`;
  return { ...row, ms: line.p50Ms, note: `${rate}; ms is p50, p99 ${line.p99Ms} ms; ${line.rowsPerPass.toFixed(1)} rows/pass; ${line.completed} completed${failed === 0 ? '' : `, ${failed} failed`}` };
}

/** One row per distinct reason: a provider that cannot start is skipped by every step that wants it. */
function skippedRows(skips: SkipLine[]): Row[] {
  const byReason = new Map<string, string[]>();
  for (const skip of skips) byReason.set(skip.reason, [...(byReason.get(skip.reason) ?? []), skip.what]);
  return [...byReason].map(([reason, what]) => ({ measurement: what.join('; '), provider: '', dtype: '', note: `skipped: ${reason}` }));
}

function cell(value: number | string | undefined, digits = 0): string {
  if (value === undefined) return '';
  return typeof value === 'number' ? value.toFixed(digits) : value.replace(/\|/g, '\\|');
}

function main(): void {
  const path = process.argv[2];
  if (path === undefined) throw new Error('usage: summary RESULTS.jsonl');
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((text) => text.trim() !== '')
    .map((text) => Line.parse(JSON.parse(text)));
  for (const line of lines) if (line.kind === 'machine') console.log(`Machine: ${line.description}\n`);
  console.log('| measurement | provider | dtype | B | L | T | forward passes | ms | GFLOP/s | time ÷ PyTorch bf16 | note |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const row of rows(lines)) {
    const cells = [row.measurement, row.provider, row.dtype, cell(row.batch), cell(row.length), cell(row.steps), cell(row.passes), cell(row.ms, 1), cell(row.gflops), cell(row.vsTorch), cell(row.note)];
    console.log(`| ${cells.map((c) => cell(c)).join(' | ')} |`);
  }
}

main();
