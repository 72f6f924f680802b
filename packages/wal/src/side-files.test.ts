import { readdirSync } from 'node:fs';
import { WalErrorCode } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

afterAll(removeTempDirs);

describe('side files', () => {
  it('are replaced whole, read back after a reopen, and leave the log as it was', async () => {
    const dir = tempDir('walnut-side-');
    const wal = await Wal.open(dir).build();
    await wal.append(Buffer.from('one'));
    expect(await wal.readSideFile('app.state')).toBeUndefined();
    await wal.writeSideFile('app.state', Buffer.from('first'));
    await wal.writeSideFile('app.state', new Uint8Array([110, 101, 119]));
    expect((await wal.readSideFile('app.state'))?.toString()).toBe('new');
    await wal.close();

    expect(readdirSync(dir)).not.toContain('app.state.tmp');
    const again = await Wal.open(dir).build();
    expect((await again.readSideFile('app.state'))?.toString()).toBe('new');
    const payloads: string[] = [];
    await again.replay(1n, (record) => {
      payloads.push(record.payload.toString());
    });
    expect(payloads).toEqual(['one']);
    await again.close();
  });

  it.each([
    'FLOOR',
    'LOCK',
    '00000000000000000001.wal',
    'state',
    'app.state.tmp',
    '../app.state',
    'cursors/app.state',
    'App.state',
    `${'a'.repeat(60)}.state`,
  ])(
    'refuse the name %j, which could be one of the log’s own files or outside it',
    async (name) => {
      const wal = await Wal.open(tempDir('walnut-side-')).build();
      try {
        await expectWalError(wal.writeSideFile(name, Buffer.from('x')), WalErrorCode.BAD_ARGUMENT);
        await expectWalError(wal.readSideFile(name), WalErrorCode.BAD_ARGUMENT);
      } finally {
        await wal.close();
      }
    },
  );

  it('are read, not written, by a read-only opener', async () => {
    const dir = tempDir('walnut-side-');
    const writer = await Wal.open(dir).build();
    await writer.writeSideFile('app.state', Buffer.from('kept'));
    const reader = await Wal.open(dir).readOnly().build();
    try {
      expect((await reader.readSideFile('app.state'))?.toString()).toBe('kept');
      await expectWalError(
        reader.writeSideFile('app.state', Buffer.from('x')),
        WalErrorCode.READ_ONLY,
      );
      await expectWalError(
        reader.writeSideFileAt('app.state', 0, Buffer.from('x')),
        WalErrorCode.READ_ONLY,
      );
      await expectWalError(reader.removeSideFile('app.state'), WalErrorCode.READ_ONLY);
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('grow by writes at an offset, read back in ranges, and are removed', async () => {
    const dir = tempDir('walnut-side-');
    const wal = await Wal.open(dir).build();
    await wal.writeSideFile('app.rows', Buffer.from('head'));
    await wal.writeSideFileAt('app.rows', 4, Buffer.from('-one'));
    await wal.writeSideFileAt('app.rows', 4, Buffer.from('-two-three'));
    expect((await wal.readSideFile('app.rows'))?.toString()).toBe('head-two-three');
    expect((await wal.readSideFile('app.rows', { offset: 5, length: 3 }))?.toString()).toBe('two');
    // Fewer bytes where the file ends; none past it.
    expect((await wal.readSideFile('app.rows', { offset: 9, length: 100 }))?.toString()).toBe(
      'three',
    );
    expect(await wal.readSideFile('app.rows', { offset: 50, length: 4 })).toHaveLength(0);
    expect(await wal.readSideFile('app.none', { offset: 0, length: 4 })).toBeUndefined();
    expect(await wal.removeSideFile('app.rows')).toBe(true);
    expect(await wal.removeSideFile('app.rows')).toBe(false);
    expect(readdirSync(dir)).not.toContain('app.rows');
    await wal.close();
  });

  it('refuse a write into a file that is not there, or past its end', async () => {
    const wal = await Wal.open(tempDir('walnut-side-')).build();
    try {
      await expectWalError(
        wal.writeSideFileAt('app.rows', 0, Buffer.from('x')),
        WalErrorCode.BAD_STATE,
      );
      await wal.writeSideFile('app.rows', Buffer.from('abc'));
      for (const offset of [4, -1, 1.5]) {
        await expectWalError(
          wal.writeSideFileAt('app.rows', offset, Buffer.from('x')),
          WalErrorCode.BAD_ARGUMENT,
        );
      }
      await expectWalError(
        wal.readSideFile('app.rows', { offset: 0, length: -1 }),
        WalErrorCode.BAD_ARGUMENT,
      );
      expect((await wal.readSideFile('app.rows'))?.toString()).toBe('abc');
    } finally {
      await wal.close();
    }
  });

  it('are refused once the log is closed', async () => {
    const wal = await Wal.open(tempDir('walnut-side-')).build();
    await wal.writeSideFile('app.state', Buffer.from('x'));
    await wal.close();
    await expectWalError(wal.writeSideFile('app.state', Buffer.from('y')), WalErrorCode.CLOSED);
    await expectWalError(wal.readSideFile('app.state'), WalErrorCode.CLOSED);
  });
});
