import { WalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, RecordingStorageIo } from '@walnut/storage-io/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { CoreWalWriter } from './core-wal-writer.js';

const DIR = '/wal';
const PATH = `${DIR}/wal-0.log`;
const bytes = (text: string) => Buffer.from(text);

let io: MemoryStorageIo;

beforeEach(async () => {
  io = new MemoryStorageIo();
  await io.mkdir(DIR);
});

async function sizeOf(path: string): Promise<number | undefined> {
  return (await io.stat(path))?.size;
}

describe('one writer per core file', () => {
  it('await using closes the writer when the scope ends, releasing its file', async () => {
    {
      await using writer = await CoreWalWriter.create(0, PATH, { io });
      writer.appendPut(bytes('a'), bytes('1'));
    }
    const next = await CoreWalWriter.openAt(0, PATH, (await sizeOf(PATH))!, { io });
    expect(next.sequence).toBe(1n);
    await next.close();
  });

  it('openAt refuses with WAL_LOCKED, cutting nothing, while another writer has the file open', async () => {
    const owner = await CoreWalWriter.create(0, PATH, { io });
    owner.appendPut(bytes('a'), bytes('1'));
    await owner.sync();
    const size = await sizeOf(PATH);

    const error = await expectWalError(
      CoreWalWriter.openAt(0, PATH, 64, { io }),
      WalErrorCode.LOCKED,
    );
    expect(error.message).toContain('core 0');
    expect(error.message).toContain('manager.handOff');
    expect(error.details).toMatchObject({ segment: PATH, coreId: 0 });
    expect(await sizeOf(PATH)).toBe(size);
    await expectWalError(CoreWalWriter.create(0, PATH, { io }), WalErrorCode.LOCKED);

    owner.appendPut(bytes('b'), bytes('2')); // the owner is untouched
    const end = owner.position;
    await owner.close();
    const resumed = await CoreWalWriter.openAt(0, PATH, end, { io });
    expect(resumed.sequence).toBe(2n);
    await resumed.close();
  });

  it('openAt refuses entries of another core after the position, cutting nothing', async () => {
    const writer = await CoreWalWriter.create(0, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    await writer.close();
    const size = await sizeOf(PATH);

    const error = await expectWalError(
      CoreWalWriter.openAt(1, PATH, 64, { io }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain('holds entries of core 0, not core 1');
    expect(await sizeOf(PATH)).toBe(size);
    const cut = await CoreWalWriter.openAt(0, PATH, 64, { io }); // its own core may cut it
    await cut.close();
    expect(await sizeOf(PATH)).toBe(64);
  });

  it('close is idempotent, also while a close is under way, and frees the file for the next writer', async () => {
    const writer = await CoreWalWriter.create(0, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    await Promise.all([writer.close(), writer.close()]);
    await writer.close();
    expect(() => writer.appendPut(bytes('b'), bytes('2'))).toThrowError(
      expect.objectContaining({ code: WalErrorCode.CLOSED }),
    );
    const next = await CoreWalWriter.openAt(0, PATH, writer.position, { io });
    await next.close();
  });

  it('says when the holder may have ended, as the lock does', async () => {
    const recording = new RecordingStorageIo(io);
    recording.refuse(
      (op) => op.kind === 'lock',
      () =>
        new WalError(WalErrorCode.LOCKED, `${PATH}.lock is locked by process 7`, {
          details: {
            path: `${PATH}.lock`,
            holderPid: 7,
            holderIsThisProcess: false,
            holderMayHaveEnded: 'it runs on another machine (m2)',
          },
        }),
    );
    const error = await expectWalError(
      CoreWalWriter.create(0, PATH, { io: recording }),
      WalErrorCode.LOCKED,
    );
    expect(error.message).toContain(
      'open for writing by process 7 (it may have ended, but it runs on another machine (m2))',
    );
  });
});
