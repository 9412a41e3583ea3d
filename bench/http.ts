/**
 * The README's HTTP table: exactly the commands it shows, on a throwaway port. A synthetic tiny
 * model (V 64, L 32) is synthesized and exported, `mdlm serve` runs it in its own process (this
 * file re-run with --bench-serve, so the load generator does not share its event loop), and
 * `mdlm bench http` loads it. Flags are `mdlm bench http`'s and replace the README's defaults.
 *
 *   node --import tsx bench/http.ts [--concurrency 4,16,64] [--duration 10] [--json] [--chart http.html] ...
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { startServerProcess } from './support.js';

const SERVE_FLAG = '--bench-serve';
/** The README's serve and bench flags, less the model and the URL. */
const SERVE_FLAGS = ['--device', 'cpu', '--max-queue', '1024'];
const BENCH_FLAGS = ['--mix', 'generate,completions,sse,ws', '--concurrency', '4,16,64', '--length', '16', '--steps', '64', '--duration', '10'];

async function serveChild(exportDir: string): Promise<void> {
  process.exitCode = await main(['node', 'mdlm', 'serve', '--model', exportDir, '--port', '0', ...SERVE_FLAGS]);
}

async function cli(args: string[]): Promise<void> {
  const code = await main(['node', 'mdlm', ...args]);
  if (code !== 0) throw new Error(`mdlm ${args.join(' ')} exited with ${code}`);
}

async function bench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mdlm-http-bench-'));
  try {
    const [checkpoint, exportDir] = [join(work, 'tiny-checkpoint'), join(work, 'tiny')];
    await cli(['synth', '--preset', 'tiny', '--out', checkpoint]);
    await cli(['export', '--checkpoint', checkpoint, '--out', exportDir]);
    const server = await startServerProcess([...process.execArgv, import.meta.filename, SERVE_FLAG, exportDir]);
    console.log(`Server: mdlm serve --model tiny ${SERVE_FLAGS.join(' ')}, on this machine.`);
    try {
      process.exitCode = await main(['node', 'mdlm', 'bench', 'http', '--url', server.url, ...BENCH_FLAGS, ...process.argv.slice(2)]);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === SERVE_FLAG) await serveChild(process.argv[3] as string);
else await bench();
