import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const MDLM_BIN = join(import.meta.dirname, '..', '..', 'bin', 'mdlm.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the installed entry point (bin/mdlm.js → dist/, built by `npm test`) as a user would. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  return startProcess(process.execPath, [MDLM_BIN, ...args], env);
}

/** Any program, its output collected. */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(command, args, { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startProcess(command, args, env).done;
}
