/**
 * Runs one resolveModel call in its own process for the hub tests and prints the outcome as
 * JSON: argv[2] is {"reference": ..., "options": ...}. Download progress goes to stderr, one
 * line per event, and Ctrl-C exits as the CLI's handler does.
 */
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { isMdlmError } from '../../src/errors.js';
import { resolveModel } from '../../src/hub/index.js';

const { reference, options } = JSON.parse(process.argv[2] ?? '{}');
process.on('SIGINT', () => process.exit(130));
try {
  let converted = false;
  const resolved = await resolveModel(reference, {
    ...options,
    onProgress: (event) => {
      converted ||= event.phase === 'convert';
      if (event.phase === 'download') process.stderr.write(`download ${event.file} ${event.done}/${event.total}\n`);
    },
  });
  await InferenceSession.create(join(resolved.exportDir, 'model.onnx'));
  process.stdout.write(JSON.stringify({ ok: true, exportDir: resolved.exportDir, source: resolved.source, notices: resolved.notices, loads: true, converted }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, code: isMdlmError(error) ? error.code : 'unexpected', message: (error as Error).message }));
}
