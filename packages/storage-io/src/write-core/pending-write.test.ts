import { Errno, WalErrorCode } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { judgeWrite, type PendingWrite, sendRest, writeError } from './pending-write.js';

const { EIO, ENOSPC } = Errno;

const pending = (length: number, fileOffset = 0): PendingWrite => ({
  buf: Buffer.alloc(length, 7),
  fileOffset,
  length,
  done: 0,
});

describe('judging a write completion (judgeWrite)', () => {
  it('a whole write leaves nothing to send', () => {
    const w = pending(100);
    expect(judgeWrite(w, 100)).toBe(0);
    expect(w.done).toBe(100);
  });

  it('a short write keeps what it wrote and leaves the rest to send', () => {
    const w = pending(100);
    expect(judgeWrite(w, 30)).toBe(70);
    expect(w.done).toBe(30);
    expect(judgeWrite(w, 70)).toBe(0);
  });

  it('with O_DIRECT the rest restarts at the sector the write stopped in', () => {
    const w = pending(4096);
    expect(judgeWrite(w, 1000, 512)).toBe(4096 - 512);
    expect(w.done).toBe(512);
  });

  it('a failure returns the errno and leaves done where the failed part started', () => {
    const w = pending(100);
    judgeWrite(w, 40);
    expect(judgeWrite(w, -ENOSPC)).toBe(-ENOSPC);
    expect(w.done).toBe(40);
  });

  it('a part that moved nothing fails with -EIO rather than spin', () => {
    const w = pending(100);
    expect(judgeWrite(w, 0)).toBe(-EIO);
  });
});

describe('the error of a failed write (writeError)', () => {
  it('a full device is WAL_NO_SPACE, naming the file', () => {
    const err = writeError(pending(10), -ENOSPC, '/d/log');
    expect(err.code).toBe(WalErrorCode.NO_SPACE);
    expect(err.message).toContain('/d/log');
  });

  it('names the submission it judged (writev for a write of several buffers)', () => {
    const err = writeError(pending(10), -EIO, '/d/log', undefined, 'writev');
    expect(err.details).toMatchObject({ syscall: 'writev', errno: EIO });
  });

  it('a stall names the offset the rest would have started at', () => {
    const w = pending(100, 1000);
    judgeWrite(w, 30);
    const err = writeError(w, 0, '/d/log');
    expect(err.code).toBe(WalErrorCode.IO);
    expect(err.details).toMatchObject({ offset: 1030, errno: EIO });
  });
});

describe('sending the rest of a write (sendRest)', () => {
  const open = async () => {
    const io = new MemoryStorageIo();
    await io.mkdir('/d');
    return { io, fd: await io.open('/d/log', { create: true }) };
  };
  const write = (): PendingWrite => ({
    buf: Buffer.from('abcdefgh'),
    fileOffset: 4,
    length: 6,
    done: 0,
  });

  it('before any completion, sends the whole write at its offset', async () => {
    const { io, fd } = await open();
    expect((await io.completion(sendRest(io, fd, write()))).result).toBe(6);
    const back = Buffer.alloc(10);
    await io.read(fd, back, 0);
    expect(back.subarray(4).toString()).toBe('abcdef');
  });

  it('after a short completion, sends only the unconfirmed bytes, where they belong', async () => {
    const { io, fd } = await open();
    const w = write();
    judgeWrite(w, 4);
    expect((await io.completion(sendRest(io, fd, w))).result).toBe(2);
    const back = Buffer.alloc(10);
    await io.read(fd, back, 0);
    expect(back.subarray(8).toString()).toBe('ef');
    expect(back.subarray(0, 8).every((b) => b === 0)).toBe(true);
  });
});
