import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(done: number, total: number, extra?: string): void;
  stop(): void;
}

/** A progress bar on stderr, or nothing when stderr is not a terminal (logs stay clean). */
export function progressBar(label: string, unit: string): ProgressReporter {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}{extra}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number, extra = '') {
      if (!started) {
        bar.start(total, done, { extra });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { extra });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
