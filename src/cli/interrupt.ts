/**
 * Commands that write files exit on Ctrl-C through process.exit, which runs the exit hooks
 * that delete half-written output (a signal's default action would skip them).
 */
export function exitOnInterrupt(): void {
  process.once('SIGINT', () => process.exit(130));
}
