/**
 * Commands that write files exit on Ctrl-C through process.exit, which runs the exit hooks
 * that delete half-written output (a signal's default action would skip them). The handler
 * stays installed: with `once`, a second Ctrl-C arriving while those hooks run would meet the
 * default action and kill the process half-way through its clean-up.
 */
export function exitOnInterrupt(): void {
  process.on('SIGINT', () => process.exit(130));
}

/**
 * Until the returned function is called, SIGINT and SIGTERM also end the process through
 * process.exit (130 / 143), so that its exit hooks remove half-written output: for
 * `mdlm serve` while it downloads and converts, before it can shut down gracefully.
 */
export function exitOnSignals(): () => void {
  const onInterrupt = () => process.exit(130);
  const onTerminate = () => process.exit(143);
  // `on`, as above: a second signal during the exit hooks must meet the handler again.
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  return () => {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
  };
}
