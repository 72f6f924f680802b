import { Presets, SingleBar } from 'cli-progress';
import { type Output, printLine } from './output.js';

/** Named values shown beside the bar, e.g. `{ records: '12,000', mbps: '8.1' }`. */
export type ProgressFields = Record<string, string>;

export interface ProgressOptions {
  /** The value that means done. */
  readonly total: number;
  /**
   * cli-progress format for a terminal, e.g. `'verify |{bar}| {percentage}% {segment}'`.
   * Name fields of your own so they cannot collide with the library's (`total`, `value`,
   * `eta`, `percentage`, `duration`), which it fills in itself.
   */
  readonly barFormat: string;
  /** The fields shown before the first update (else `{name}` would be drawn literally). */
  readonly initial: ProgressFields;
  /** The line printed instead of a bar when the output is not a terminal. */
  readonly plainLine: (value: number, fields: ProgressFields) => string;
  /** How often plain lines are printed (default 1 s). */
  readonly plainIntervalMs?: number;
}

export interface Progress {
  update(value: number, fields?: ProgressFields): void;
  /** Draws the final state and ends the bar (a last plain line without a terminal). */
  stop(): void;
}

/**
 * A live progress bar on a terminal, plain periodic lines otherwise (CI logs, pipes), so
 * the same command reads well in both.
 */
export function startProgress(out: Output, options: ProgressOptions): Progress {
  if (out.interactive) return barProgress(out, options);
  return plainProgress(out, options);
}

function barProgress(out: Output, options: ProgressOptions): Progress {
  const bar = new SingleBar(
    {
      format: options.barFormat,
      stream: out.stderr,
      hideCursor: true,
      fps: 10,
      barsize: 24,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(Math.max(options.total, 1), 0, options.initial);
  return {
    update: (value, fields) => bar.update(value, fields ?? {}),
    stop: () => bar.stop(),
  };
}

function plainProgress(out: Output, options: ProgressOptions): Progress {
  const interval = options.plainIntervalMs ?? 1000;
  let lastPrinted = Date.now();
  let updated = false;
  let value = 0;
  let fields: ProgressFields = {};
  return {
    update(v, f) {
      updated = true;
      value = v;
      if (f) fields = f;
      const now = Date.now();
      if (now - lastPrinted >= interval) {
        lastPrinted = now;
        printLine(out.stderr, options.plainLine(value, fields));
      }
    },
    stop() {
      if (updated) printLine(out.stderr, options.plainLine(value, fields));
    },
  };
}
