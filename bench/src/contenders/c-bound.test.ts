import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NotAvailable } from '../contender.js';
import { loadCodecCrc32c } from '../floor/crc.js';
import { FRAME_HEADER_BYTES } from '../floor/framing.js';
import { BOUND_VARIANTS, buildBound, runBound } from './c-bound.js';

const dir = mkdtempSync(join(tmpdir(), 'walnut-c-bound-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Where the program cannot be built or io_uring is refused, the contender is unavailable. */
function binaryOrNull(): string | null {
  try {
    return buildBound();
  } catch (error) {
    if (error instanceof NotAvailable) return null;
    throw error;
  }
}

describe('the C bound', () => {
  const binary = binaryOrNull();

  it.runIf(binary !== null).each(BOUND_VARIANTS)(
    '%s writes every record as a checked frame, one round per producer group',
    async (variant) => {
      const file = join(dir, `${variant}.bin`);
      const result = await runBound(binary!, file, variant, 130, 100, 64);
      expect(result).toMatchObject({ variant, records: 130, rounds: 3 });
      expect(result.p99Us).toBeGreaterThanOrEqual(result.p50Us);
      const crc32c = await loadCodecCrc32c();
      const bytes = readFileSync(file);
      for (let i = 0; i < 130; i++) {
        const at = i * (FRAME_HEADER_BYTES + 100);
        expect(bytes.readUInt32LE(at)).toBe(100);
        const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + 100);
        expect(crc32c(payload)).toBe(bytes.readUInt32LE(at + 4));
      }
      // Nothing after the last frame: the preallocated zeros.
      expect(bytes.readUInt32LE(130 * (FRAME_HEADER_BYTES + 100))).toBe(0);
    },
  );

  it('is unavailable, saying why, when the compiler cannot build it', () => {
    const saved = { CC: process.env.CC, TMPDIR: process.env.TMPDIR };
    process.env.CC = join(dir, 'no-such-compiler');
    process.env.TMPDIR = mkdtempSync(join(dir, 'cache-'));
    try {
      expect(() => buildBound()).toThrow(NotAvailable);
      expect(() => buildBound()).toThrow(/could not build native\/uring-bound\.c/);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
