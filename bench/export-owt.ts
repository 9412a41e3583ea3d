/**
 * The export figures: `mdlm synth --preset owt` then `mdlm export` (fp32 with either head, int8, fp16) of the full
 * kuleshov-group/mdlm-owt shape, each in its own process so its peak memory is its own.
 * Prints wall time, peak resident memory and file sizes. Where python3 has torch, it also
 * writes a Lightning .ckpt of the same shape (bench/ckpt/write_owt_ckpt.py: EMA and raw weights,
 * untimed) and exports that, whose peak memory shows the storages streaming out of the zip.
 *
 *   node --import tsx bench/export-owt.ts [workdir]   (default: a temporary directory, removed after)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';

const STEP_FLAG = '--bench-step';

async function runStep(args: string[]): Promise<void> {
  const code = await main(['node', 'mdlm', ...args]);
  process.stdout.write(`${JSON.stringify({ code, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
}

function measure(label: string, args: string[]): { label: string; seconds: number; peakMb: number } {
  const started = performance.now();
  const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, STEP_FLAG, ...args], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { code?: number; maxRssBytes?: number };
  if (report.code !== 0) throw new Error(`${label} failed: ${child.stderr}`);
  return { label, seconds, peakMb: (report.maxRssBytes ?? 0) / 1e6 };
}

function sizes(dir: string): string {
  return readdirSync(dir)
    .map((file) => `${file} ${(statSync(join(dir, file)).size / 1e6).toFixed(1)} MB`)
    .join(', ');
}

async function bench(): Promise<void> {
  const work = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'mdlm-export-bench-'));
  const checkpoint = join(work, 'owt-checkpoint');
  try {
    const rows = [
      measure('synth --preset owt', ['synth', '--preset', 'owt', '--seed', '1', '--out', checkpoint]),
      measure('export --head positions', ['export', '--checkpoint', checkpoint, '--out', join(work, 'owt-positions'), '--head', 'positions']),
      measure('export --head logits', ['export', '--checkpoint', checkpoint, '--out', join(work, 'owt-logits'), '--head', 'logits']),
      measure('export --dtype int8', ['export', '--checkpoint', checkpoint, '--out', join(work, 'owt-int8'), '--dtype', 'int8']),
      measure('export --dtype fp16', ['export', '--checkpoint', checkpoint, '--out', join(work, 'owt-fp16'), '--dtype', 'fp16']),
    ];
    const ckpt = join(work, 'owt.ckpt');
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const written = spawnSync(python, [join(import.meta.dirname, 'ckpt', 'write_owt_ckpt.py'), ckpt], { encoding: 'utf8' });
    if (written.status === 0) rows.push(measure('export --checkpoint owt.ckpt (EMA)', ['export', '--checkpoint', ckpt, '--out', join(work, 'owt-ckpt')]));
    else console.log(`no .ckpt row: ${python} could not write one (${(written.stderr || String(written.error)).trim().split('\n').pop()})\n`);
    // Imported here, not at the top: each step's process runs this file too, and measures its own peak memory.
    const { machineLine } = await import('./support.js');
    console.log(`${machineLine()}\n`);
    console.log('| step | wall s | peak RSS MB |\n| --- | ---: | ---: |');
    for (const row of rows) console.log(`| ${row.label} | ${row.seconds.toFixed(1)} | ${row.peakMb.toFixed(0)} |`);
    console.log(`\ncheckpoint: ${sizes(checkpoint)}`);
    for (const variant of ['positions', 'logits', 'int8', 'fp16']) console.log(`${variant} export: ${sizes(join(work, `owt-${variant}`))}`);
    if (existsSync(ckpt)) console.log(`owt.ckpt: ${(statSync(ckpt).size / 1e6).toFixed(1)} MB; its export: ${sizes(join(work, 'owt-ckpt'))}`);
  } finally {
    if (process.argv[2] === undefined) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === STEP_FLAG) await runStep(process.argv.slice(3));
else await bench();
