import {
  type FrameCipher,
  FrameScanner,
  findNextValidFrame,
  frameLsns,
  isPaddingBody,
  isZeroFilled,
} from '@walnut/codec';

/** Consecutive intact frames of a damaged segment: buffer indexes [start, end) and their LSNs. */
export interface IntactRun {
  start: number;
  end: number;
  firstLsn: bigint;
  lastLsn: bigint;
  records: number;
}

/** Bytes of a damaged segment that hold no record salvage could keep. */
export interface DamagedStretch {
  start: number;
  end: number;
}

export interface Resync {
  /** Each run after the damage, in order, with strictly increasing LSNs. */
  runs: IntactRun[];
  /** The stretch before each run (stretches[i] precedes runs[i]). */
  stretches: DamagedStretch[];
  /** After the last run: zeros to the end ('eof'), or bytes with no valid frame ('torn'). */
  tail: { start: number; kind: 'eof' | 'torn' };
}

export interface ResyncOptions {
  /** The LSN the first kept record after the damage may start at (no lower one is kept). */
  nextLsn: bigint;
  /** The first LSN of the next segment: frames at or above it are not this segment's (null: last segment). */
  below: bigint | null;
  cipher: FrameCipher | undefined;
}

/** LSNs of a record or batch frame's body, or null for any other kind. */
function lsnsOf(scanner: FrameScanner): { first: bigint; count: number } | null {
  return frameLsns(scanner.frameBuffer, scanner.frameBodyStart, scanner.frameBodyEnd);
}

/**
 * The run of frames starting at `at` when its first frame is a record or batch whose LSNs
 * fit (from `nextLsn`, below `below`), else null; the run goes on while LSNs follow each
 * other (padding between them is part of it).
 */
function runAt(bytes: Buffer, at: number, options: ResyncOptions): IntactRun | null {
  const scanner = new FrameScanner(bytes, {
    start: at,
    cipher: options.cipher,
  });
  let run: IntactRun | null = null;
  while (scanner.advanceFrame()) {
    const lsns = lsnsOf(scanner);
    if (lsns === null) {
      if (isPaddingBody(scanner.frameBuffer, scanner.frameBodyStart) && run !== null) continue;
      break;
    }
    const last = lsns.first + BigInt(lsns.count) - 1n;
    const fits =
      run === null
        ? lsns.first >= options.nextLsn && (options.below === null || last < options.below)
        : lsns.first === run.lastLsn + 1n && (options.below === null || last < options.below);
    if (!fits) break;
    if (run === null) run = { start: at, end: at, firstLsn: lsns.first, lastLsn: last, records: 0 };
    run.lastLsn = last;
    run.records += lsns.count;
    run.end = scanner.offset;
  }
  return run;
}

/**
 * Resynchronises after damage at `from` in a segment's bytes: the next frame whose CRC
 * and LSN check out starts a run of intact frames, and so on to the end. A frame inside
 * the damage that happens to check out is kept only when its LSN follows what was kept
 * before it, so nothing is returned out of order or twice.
 */
export function resynchronise(bytes: Buffer, from: number, options: ResyncOptions): Resync {
  const runs: IntactRun[] = [];
  const stretches: DamagedStretch[] = [];
  let stretchStart = from;
  let nextLsn = options.nextLsn;
  for (;;) {
    if (isZeroFilled(bytes, stretchStart, bytes.length))
      return { runs, stretches, tail: { start: stretchStart, kind: 'eof' } };
    let run: IntactRun | null = null;
    let at = stretchStart;
    while (run === null) {
      const candidate = findNextValidFrame(bytes, at);
      if (candidate === -1) return { runs, stretches, tail: { start: stretchStart, kind: 'torn' } };
      run = runAt(bytes, candidate, { ...options, nextLsn });
      at = candidate + 1;
    }
    stretches.push({ start: stretchStart, end: run.start });
    runs.push(run);
    nextLsn = run.lastLsn + 1n;
    stretchStart = run.end;
  }
}
