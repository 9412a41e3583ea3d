import { readSync, writeSync } from 'node:fs';

/** writeSync until every byte is written: one call may write less than asked. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** readSync until `bytes` is full or the file ends: one call may read less than asked. Returns the bytes read. */
export function readInto(fd: number, bytes: Uint8Array, position: number): number {
  let done = 0;
  while (done < bytes.byteLength) {
    const read = readSync(fd, bytes, done, bytes.byteLength - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return done;
}
