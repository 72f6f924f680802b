import { Errno, WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { describe, expect, it } from 'vitest';
import {
  isNoSpace,
  linkedSyncRan,
  stalledWriteError,
  wasCancelled,
  writeProgress,
} from './completion-rules.js';

const { ECANCELED, EDQUOT, EIO, ENOSPC } = Errno;

describe('the short-write rule (writeProgress)', () => {
  it('a whole write is done', () => {
    expect(writeProgress(100, 0, 100)).toBe(100);
    expect(writeProgress(60, 40, 100)).toBe(100);
  });

  it('a short write keeps what it wrote: the rest is sent again from there', () => {
    expect(writeProgress(30, 0, 100)).toBe(30);
    expect(writeProgress(30, 40, 100)).toBe(70);
  });

  it('with O_DIRECT the rest restarts at the sector the write stopped in', () => {
    expect(writeProgress(1000, 0, 4096, 512)).toBe(512);
    expect(writeProgress(1024, 512, 4096, 512)).toBe(1536);
  });

  it('a write that moved nothing is a failure (-EIO), never a resend that would spin', () => {
    expect(writeProgress(0, 0, 100)).toBe(-EIO);
    expect(writeProgress(0, 40, 100)).toBe(-EIO);
    expect(writeProgress(300, 0, 4096, 512)).toBe(-EIO);
  });

  it('a failed write keeps its own errno', () => {
    expect(writeProgress(-ENOSPC, 0, 100)).toBe(-ENOSPC);
    expect(writeProgress(-EIO, 50, 100)).toBe(-EIO);
  });

  it('a stalled write is WAL_IO naming the file and offset', () => {
    const error = stalledWriteError('/d/f', 4096);
    expect(error.code).toBe(WalErrorCode.IO);
    expect(error.details).toMatchObject({ syscall: 'write', offset: 4096, path: '/d/f' });
  });
});

describe('a full device (isNoSpace)', () => {
  it('is ENOSPC or EDQUOT, either sign', () => {
    expect([ENOSPC, -ENOSPC].map(isNoSpace)).toEqual([true, true]);
    // Windows has no EDQUOT (os.constants.errno lacks it).
    if ((EDQUOT as number | undefined) !== undefined) {
      expect([EDQUOT, -EDQUOT].map(isNoSpace)).toEqual([true, true]);
    }
    expect([EIO, -EIO, 0].map(isNoSpace)).toEqual([false, false, false]);
  });
});

describe('an fdatasync linked behind writes (linkedSyncRan)', () => {
  it('ran when it succeeded', () => {
    expect(linkedSyncRan(0, '/d/f')).toBe(true);
  });

  it('did not run when cancelled behind a short or failed write: sync again', () => {
    expect(linkedSyncRan(-ECANCELED, '/d/f')).toBe(false);
    expect(wasCancelled(-ECANCELED)).toBe(true);
    expect([0, 10, -EIO].map(wasCancelled)).toEqual([false, false, false]);
  });

  it('any other failure throws: an fdatasync error cannot be retried', () => {
    expectWalError(() => linkedSyncRan(-EIO, '/d/f'), WalErrorCode.IO);
    expectWalError(() => linkedSyncRan(-ENOSPC, '/d/f'), WalErrorCode.NO_SPACE);
  });
});
