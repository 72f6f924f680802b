import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLog, log, testCipher } from '../../test/arbitraries.js';
import {
  agreeOnEveryByteChange,
  agreeOnEveryTruncation,
  agreeOnRandomBytes,
} from '../../test/scan-agreement.js';
import { isWalError } from '../errors/errors.js';
import { encodeFrame } from './frame.js';
import { FrameScanner, type FrameScannerOptions } from './scanner.js';

/** The frames a scan saw (file offset, body bytes), where it stopped, or the error code it threw. */
type Outcome = { frames: [number, string][]; stop: unknown; offset: number } | { threw: string };

function outcome(next: (scanner: FrameScanner) => [number, Buffer] | null) {
  return (buf: Uint8Array, options?: FrameScannerOptions): Outcome => {
    const scanner = new FrameScanner(buf, options);
    const frames: [number, string][] = [];
    try {
      for (let f = next(scanner); f !== null; f = next(scanner)) {
        frames.push([f[0], f[1].toString('hex')]);
      }
    } catch (err) {
      if (!isWalError(err)) throw err;
      return { threw: err.code };
    }
    return { frames, stop: scanner.stop, offset: scanner.offset };
  };
}

const withNextFrame = outcome((scanner) => {
  const frame = scanner.nextFrame();
  return frame === null ? null : [frame.offset, frame.body];
});

const withAdvanceFrame = outcome((scanner) =>
  scanner.advanceFrame()
    ? [
        scanner.frameOffset,
        scanner.frameBuffer.subarray(scanner.frameBodyStart, scanner.frameBodyEnd),
      ]
    : null,
);

describe('FrameScanner.advanceFrame: the frames and stops of nextFrame, without objects', () => {
  it('reads every frame of a log as written, then the same eof', () => {
    fc.assert(
      fc.property(log, fc.nat(300), (model, zeros) => {
        const { buf, frames } = encodeLog(model);
        const file = Buffer.concat([buf, Buffer.alloc(zeros)]);
        const scan = withAdvanceFrame(file, { baseOffset: 64 });
        expect(scan).toMatchObject({ offset: 64 + buf.length, stop: { kind: 'eof' } });
        expect((scan as { frames: unknown[] }).frames.length).toBe(frames.length);
        expect(scan).toEqual(withNextFrame(file, { baseOffset: 64 }));
      }),
    );
  });

  it('reads encrypted frames as their plaintext', () => {
    fc.assert(
      fc.property(log, (model) => {
        const { buf } = encodeLog(model, testCipher());
        const scan = withAdvanceFrame(buf, { cipher: testCipher() });
        expect(scan).toMatchObject({ stop: { kind: 'eof' } });
        expect(scan).toEqual(withNextFrame(buf, { cipher: testCipher() }));
        expect(withAdvanceFrame(buf)).toEqual({ threw: 'WAL_KEY_MISSING' });
      }),
      { numRuns: 50 },
    );
  });

  it('every single-byte change of a frame gives the same frames and stop', () => {
    agreeOnEveryByteChange(withAdvanceFrame, withNextFrame);
  });

  it('every truncation of the last frame gives the same stop, chunked or not', () => {
    agreeOnEveryTruncation(withAdvanceFrame, withNextFrame);
  });

  it('bodies of unknown kinds stop both as the same corruption', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 40 }),
        (kind, rest) => {
          const buf = Buffer.alloc(128);
          const at = encodeFrame(buf, 0, Buffer.concat([Buffer.from([kind]), rest]));
          const file = buf.subarray(0, at);
          expect(withAdvanceFrame(file)).toEqual(withNextFrame(file));
        },
      ),
    );
  });

  it('random bytes give the same outcome, and only WalErrors', () => {
    agreeOnRandomBytes(withAdvanceFrame, withNextFrame);
  });
});
