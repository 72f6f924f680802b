import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { RecoveryReport, SegmentInfo } from './index.js';
import { Wal } from './wal.js';

// The declared types say what the calls return (checked by `typecheck`, which covers tests);
// the assertions, that the runtime agrees.

const root = tempDir('walnut-wal-types-');
afterAll(removeTempDirs);

describe('Wal: declared types match what it returns', () => {
  it('segments() lists each file with its size on disk and encryption', async () => {
    const wal = await Wal.open(join(root, 'segments')).build();
    await wal.append(Buffer.from('x'));
    const segments = await wal.segments();
    expectTypeOf(segments).toEqualTypeOf<readonly SegmentInfo[]>();
    const [segment] = segments;
    expectTypeOf(segment!.sizeBytes).toBeNumber();
    expectTypeOf(segment!.encrypted).toBeBoolean();
    expectTypeOf(segment!.keyId).toBeNumber();
    expect(segment).toMatchObject({
      firstLsn: 1n,
      lastLsn: 1n,
      sealed: false,
      encrypted: false,
      keyId: 0,
      sizeBytes: expect.any(Number),
      writtenBytes: expect.any(Number),
    });
    await wal.close();
  });

  it('recovery is the report of the open, there once the log is open and after close', async () => {
    const wal = await Wal.open(join(root, 'recovery')).build();
    expectTypeOf(wal.recovery).toEqualTypeOf<RecoveryReport>();
    expect(wal.recovery.records).toBe(0);
    await wal.close();
    expect(wal.recovery.lastLsn).toBe(0n);
  });
});
