import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLog, log } from '../../test/arbitraries.js';
import { codecAddon, crc32cImplementation } from '../crc/crc32c.js';
import { WalErrorCode } from '../errors/errors.js';
import { expectWalError } from '../testing/index.js';
import { walkFrames } from './frame-run.js';
import { FrameStop } from './frame-stop.js';
import { FrameWalkAhead } from './frame-walk-ahead.js';

const noAddon =
  codecAddon === null ? ` (skipped: the addon is not loaded — ${crc32cImplementation.reason})` : '';

/** Every run a reader would take, walking each one with `walk`, tables of `pairs` frames. */
function runs(
  pairs: number,
  walk: (from: number, status: Float64Array, table: Uint32Array) => number,
): number[][] {
  const out: number[][] = [];
  let from = 0;
  for (;;) {
    const status = new Float64Array(2);
    const table = new Uint32Array(pairs * 2);
    const count = walk(from, status, table);
    out.push([count, status[0]!, status[1]!, ...table.subarray(0, count * 2)]);
    if (status[0] !== FrameStop.TABLE_FULL) return out;
    from = status[1]!;
  }
}

describe.skipIf(codecAddon === null)(`FrameWalkAhead${noAddon}`, () => {
  it('finds what walkFrames finds, run after run, on any log and any damage', () => {
    const walker = FrameWalkAhead.create()!;
    try {
      fc.assert(
        fc.property(
          log,
          fc.integer({ min: 1, max: 5 }),
          fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
          (model, pairs, damage) => {
            const { buf } = encodeLog(model);
            if (damage !== null) buf[damage[0] % buf.length]! ^= damage[1];
            const ahead = runs(pairs, (from, status, table) => {
              expect(walker.start(buf, from, buf.length, 1 << 20, table)).toBe(true);
              return walker.finish(status);
            });
            const inline = runs(pairs, (from, status, table) =>
              walkFrames(buf, from, buf.length, 1 << 20, status, table),
            );
            expect(ahead).toEqual(inline);
          },
        ),
      );
    } finally {
      walker.close();
    }
  });

  it('takes one walk at a time, and none once closed', () => {
    const walker = FrameWalkAhead.create()!;
    const { buf } = encodeLog({ firstLsn: 1n, items: [{ kind: 'padding', size: 4 }] });
    const table = new Uint32Array(8);
    expectWalError(() => walker.finish(new Float64Array(2)), WalErrorCode.BAD_STATE);
    expect(walker.start(buf, 0, buf.length, 1024, table)).toBe(true);
    expect(walker.isQueued).toBe(true);
    expectWalError(() => walker.start(buf, 0, buf.length, 1024, table), WalErrorCode.BAD_STATE);
    expectWalError(
      () => walker.start(buf, 0, buf.length + 1, 1024, new Uint32Array(8)),
      WalErrorCode.BAD_ARGUMENT,
    );
    // Closing with a walk queued waits for it; its result is dropped.
    walker.close();
    walker.close();
    expect(walker.isQueued).toBe(false);
    expectWalError(() => walker.start(buf, 0, buf.length, 1024, table), WalErrorCode.CLOSED);
  });
});
