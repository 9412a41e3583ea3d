import { writeSync } from 'node:fs';

/** writeSync until every byte is written: one call may write less than asked. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}
