import fc from 'fast-check';
import { expect } from 'vitest';
import type { FrameScannerOptions } from '../src/format/scanner.js';
import { encodeLog, log } from './arbitraries.js';

/** A way of scanning a buffer, reduced to what it saw (records or frames, stop, or error). */
export type Scan = (buf: Uint8Array, options?: FrameScannerOptions) => unknown;

/** Checks that `scan` and `reference` see the same in every single-byte change of a frame. */
export function agreeOnEveryByteChange(scan: Scan, reference: Scan): void {
  fc.assert(
    fc.property(log, fc.nat(), fc.integer({ min: 1, max: 255 }), (model, pick, mask) => {
      const { buf, frames } = encodeLog(model);
      const frame = frames[pick % frames.length]!;
      for (let i = frame.start; i < frame.end; i++) {
        const damaged = Buffer.from(buf);
        damaged[i]! ^= mask;
        expect(scan(damaged)).toEqual(reference(damaged));
      }
    }),
    { numRuns: 40 },
  );
}

/** Checks that `scan` and `reference` see the same in every truncation of the last frame. */
export function agreeOnEveryTruncation(scan: Scan, reference: Scan): void {
  fc.assert(
    fc.property(log, fc.boolean(), (model, chunked) => {
      const { buf, frames } = encodeLog(model);
      const last = frames[frames.length - 1]!;
      for (let cut = last.start; cut < last.end; cut++) {
        const part = buf.subarray(0, cut);
        expect(scan(part, { chunked })).toEqual(reference(part, { chunked }));
      }
    }),
    { numRuns: 30 },
  );
}

/** Checks that `scan` and `reference` see the same in random bytes. */
export function agreeOnRandomBytes(scan: Scan, reference: Scan): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (bytes, chunked) => {
      const buf = Buffer.from(bytes);
      expect(scan(buf, { chunked })).toEqual(reference(buf, { chunked }));
    }),
  );
}
