/**
 * Commands that write files exit on Ctrl-C through process.exit, which runs the exit hooks
 * that delete half-written output (a signal's default action would skip them). The handler
 * stays installed: with `once`, a second Ctrl-C arriving while those hooks run would meet the
 * default action and kill the process half-way through its clean-up.
 */
export function exitOnInterrupt(): void {
  process.on('SIGINT', () => process.exit(130));
}
