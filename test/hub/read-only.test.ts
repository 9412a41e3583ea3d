/**
 * One writer, many readers: `mdlm prepare` fills the conversion cache where it is writable (a
 * Kubernetes init container), and servers use it mounted read-only without trying to write.
 * The read-only mount is real: a private mount namespace (unshare, as root) with the cache
 * bind-mounted read-only, as a pod's readOnly volume is.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { MDLM_BIN, runCli, runProcess } from '../helpers/cli.js';
import { synthCheckpoint } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';

const canMount = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;

/** `sh -c` in a mount namespace where `dir` is read-only, then `node bin/mdlm.js args…`. */
function readOnlyArgs(dir: string, args: string[]): string[] {
  const mount = `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"`;
  return ['-m', '--propagation', 'private', 'sh', '-c', mount, dir, process.execPath, MDLM_BIN, ...args];
}

/** The id of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

test(
  'a read-only conversion cache: used as it is, nothing written, even with a dead conversion to clean up; a missing export is explained',
  { skip: canMount ? false : 'needs unshare and mount (root)' },
  async () => {
    const checkpoint = await synthCheckpoint();
    const modelsDir = tempDir();
    const prepared = await runCli(['prepare', '--model', checkpoint, '--models-dir', modelsDir]);
    assert.equal(prepared.code, 0, prepared.stderr);
    const exportDir = prepared.stdout.trim();
    assert.equal(dirname(dirname(exportDir)), modelsDir);
    // What a killed conversion on this host left: a writable cache would have it removed now.
    const abandoned = `.${basename(exportDir)}.staging-${hostname().replace(/[^A-Za-z0-9-]/g, '_')}-${await deadPid()}-deadbeef`;
    mkdirSync(join(dirname(exportDir), abandoned));

    const reused = await runProcess('unshare', readOnlyArgs(modelsDir, ['prepare', '--model', checkpoint, '--models-dir', modelsDir]));
    assert.equal(reused.code, 0, reused.stderr);
    assert.equal(reused.stdout.trim(), exportDir);
    assert.ok(readdirSync(dirname(exportDir)).includes(abandoned), 'the reader left the temporary for a writer to remove');

    const missing = await runProcess('unshare', readOnlyArgs(modelsDir, ['prepare', '--model', checkpoint, '--models-dir', modelsDir, '--dtype', 'int8']));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /error \[model_not_found\]: the conversion cache is read-only and holds no export at .*-int8-.*: convert the model first where the cache is writable, with `mdlm prepare`/,
    );

    const served = spawn('unshare', readOnlyArgs(modelsDir, ['serve', '--model', checkpoint, '--models-dir', modelsDir, '--port', '0', '--device', 'cpu']), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    served.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    served.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(served, 'exit');
    const address = await new Promise<string>((resolve, reject) => {
      served.stdout.on('data', () => {
        const match = /"address":"(http:[^"]+)"/.exec(output);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      void exited.then(() => reject(new Error(`mdlm serve exited: ${output}`)));
    });
    assert.equal((await fetch(`${address}/readyz`)).status, 200, 'the server runs from the read-only cache');
    served.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
  },
);
