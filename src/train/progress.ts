/**
 * Progress for long work: a bar with loss, it/s and ETA on a terminal, plain lines otherwise (logs,
 * CI), nothing when quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(done: number, values: Record<string, number>): void;
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Defaults to whether stderr is a terminal. */
  interactive?: boolean;
  quiet?: boolean;
  /** Plain mode prints about this many lines over the whole run. */
  plainLines?: number;
}

function formatValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name} ${Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4)}`)
    .join('  ');
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  const started = performance.now();
  const startDone = { value: -1 };
  if (options.quiet) return { update() {}, stop() {} };
  const interactive = options.interactive ?? Boolean(process.stderr.isTTY);
  const rate = (done: number) => {
    if (startDone.value < 0) startDone.value = done;
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? (done - startDone.value) / seconds : 0;
  };
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${options.label} |{bar}| {value}/{total} | {values} | {rate} it/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let begun = false;
    return {
      update(done, values) {
        const payload = { values: formatValues(values), rate: rate(done).toFixed(2) };
        if (!begun) {
          bar.start(options.total, done, payload);
          begun = true;
        } else bar.update(done, payload);
      },
      stop() {
        if (begun) bar.stop();
      },
    };
  }
  const every = Math.max(1, Math.floor(options.total / (options.plainLines ?? 20)));
  let lastPrinted = -1;
  let lastPrintedAt = performance.now();
  return {
    update(done, values) {
      const itemsPerSecond = rate(done);
      // Print every `every` items, and at least every 30 s so a slow run still shows life.
      const quietFor = performance.now() - lastPrintedAt;
      if (lastPrinted >= 0 && done !== options.total && done - lastPrinted < every && quietFor < 30_000) return;
      lastPrinted = done;
      lastPrintedAt = performance.now();
      const remaining = itemsPerSecond > 0 ? (options.total - done) / itemsPerSecond : 0;
      process.stderr.write(
        `${options.label} ${done}/${options.total}  ${formatValues(values)}  ${itemsPerSecond.toFixed(2)} it/s  ETA ${Math.round(remaining)}s\n`,
      );
    },
    stop() {},
  };
}

/** A progress bar that appears on the first report, for work that may or may not report (slow samplers do). */
export class LazyProgress {
  private reporter: ProgressReporter | undefined;
  constructor(private readonly label: string, private readonly quiet: boolean) {}

  readonly update = (done: number, total: number): void => {
    this.reporter ??= createProgress({ total, label: this.label, quiet: this.quiet });
    this.reporter.update(done, {});
  };

  stop(): void {
    this.reporter?.stop();
  }
}
