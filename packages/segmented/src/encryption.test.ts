import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, KeyRing } from '@walnut/codec';
import { MemoryStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, DIR, openMemory, testRing } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

const SECRET = Buffer.from('the secret payload that must never reach the disk in clear');

/** Writes record 1 into a log in `io` encrypted with testRing(), closes it: its segment's path. */
async function logOfOneRecord(io: MemoryStorageIo): Promise<string> {
  const wal = await openMemory(io, { encryption: testRing() });
  wal.append({ payload: payloadFor(1n) });
  await wal.sync();
  const path = (await wal.listSegments())[0]!.path;
  await wal.close();
  return path;
}

describe('encryption at rest', () => {
  afterEach(removeTempDirs);

  it('writes no plaintext and replays what was appended', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { encryption: testRing() });
    for (let i = 0; i < 10; i++) wal.append({ payload: SECRET, meta: Buffer.from(`m${i}`) });
    wal.appendBatch([{ payload: SECRET }, { payload: SECRET, tenantId: 5n }]);
    await wal.sync();
    const [seg] = await wal.listSegments();
    expect(seg).toMatchObject({ encrypted: true, keyId: 7 });
    expect(io.fileBytes(seg!.path)!.includes(SECRET)).toBe(false);
    const recs = await collect(wal.replay());
    expect(recs.length).toBe(12);
    for (const r of recs) expect(r.payload.equals(SECRET)).toBe(true);
    expect(recs[11]!.tenantId).toBe(5n);
    await wal.close();
  });

  it('never appends into an encrypted segment after reopen: a new segment follows', async () => {
    const io = new MemoryStorageIo();
    await logOfOneRecord(io);
    const again = await openMemory(io, { encryption: testRing() });
    expect(again.append({ payload: payloadFor(2n) })).toBe(2n);
    await again.sync();
    const segs = await again.listSegments();
    expect(segs.map((s) => [s.firstLsn, s.lastLsn])).toEqual([
      [1n, 1n],
      [2n, 2n],
    ]);
    expect((await collect(again.replay())).map((r) => r.lsn)).toEqual([1n, 2n]);
    await again.close();
  });

  it('replaces an empty encrypted active segment instead of adding a second one with the same first LSN', async () => {
    const io = new MemoryStorageIo();
    const first = await openMemory(io, { encryption: testRing() });
    const path = (await first.listSegments())[0]!.path;
    const salt1 = io.fileBytes(path)!.subarray(16, 32);
    await first.close();
    const second = await openMemory(io, { encryption: testRing() });
    second.append({ payload: payloadFor(1n) });
    await second.sync();
    const segs = await second.listSegments();
    expect(segs.length).toBe(1);
    expect(segs[0]!.lastLsn).toBe(1n);
    expect(io.fileBytes(path)!.subarray(16, 32).equals(salt1)).toBe(false);
    await second.close();
  });

  it('an encrypted log opened without its key is WAL_KEY_MISSING', async () => {
    const io = new MemoryStorageIo();
    await logOfOneRecord(io);
    await expectWalError(SegmentedWal.open({ dir: DIR, io }), 'WAL_KEY_MISSING');
    const otherId = new KeyRing([[9, Buffer.alloc(32, 9)]], 9);
    await expectWalError(
      SegmentedWal.open({ dir: DIR, io, encryption: otherId }),
      'WAL_KEY_MISSING',
    );
  });

  it('a wrong key or tampered ciphertext is WAL_DECRYPT_FAILED, naming the segment and key id', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { encryption: testRing() });
    wal.append({ payload: SECRET });
    await wal.sync();
    const path = (await wal.listSegments())[0]!.path;
    await wal.close();
    const wrong = new KeyRing([[7, Buffer.alloc(32, 8)]], 7);
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, encryption: wrong }),
      'WAL_DECRYPT_FAILED',
    );
    expect(err.message).toContain(path);
    expect(err.details).toMatchObject({ segment: path, keyId: 7, offset: 64 });
    // Flip a ciphertext byte and fix the frame CRC: only authentication can notice.
    const bytes = io.fileBytes(path)!;
    const len = bytes.readUInt32LE(68);
    bytes[64 + 8 + 20]! ^= 1;
    bytes.writeUInt32LE(crc32c(bytes.subarray(68, 72 + len)), 64);
    const fd = await io.open(path);
    await io.write(fd, bytes, 0);
    await io.close(fd);
    await expectWalError(
      SegmentedWal.open({ dir: DIR, io, encryption: testRing() }),
      'WAL_DECRYPT_FAILED',
    );
  });

  it('setEncryptionRing is allowed only before the first append into the active segment', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io);
    wal.setEncryptionRing(testRing());
    expect(wal.encryptionRing).toBeDefined();
    wal.append({ payload: SECRET });
    expectWalError(() => wal.setEncryptionRing(testRing()), 'WAL_BAD_STATE');
    await wal.sync();
    const segs = await wal.listSegments();
    expect(segs.length).toBe(1);
    expect(segs[0]!.encrypted).toBe(true);
    expect(io.fileBytes(segs[0]!.path)!.includes(SECRET)).toBe(false);
    await wal.close();
  });

  it('setEncryptionRing refuses a ring lacking the key of a segment holding records, as open does', async () => {
    const io = new MemoryStorageIo();
    const path = await logOfOneRecord(io);
    const again = await openMemory(io, { encryption: testRing() });
    const error = expectWalError(
      () => again.setEncryptionRing(new KeyRing([[8, KeyRing.generateKey()]], 8)),
      'WAL_KEY_MISSING',
    );
    expect(error.details).toEqual({ segment: path, keyId: 7 });
    expect(error.message).toContain(`${path} is encrypted with key id 7, which the key ring lacks`);
    again.setEncryptionRing(testRing().rotate(8, KeyRing.generateKey()));
    again.append({ payload: payloadFor(2n) });
    await again.sync();
    expect((await collect(again.replay())).map((r) => r.lsn)).toEqual([1n, 2n]);
    await again.close();
  });

  it('setEncryptionRing refuses other bytes under a key id the log uses (WAL_DECRYPT_FAILED)', async () => {
    const io = new MemoryStorageIo();
    const path = await logOfOneRecord(io);
    const again = await openMemory(io, { encryption: testRing(), readOnly: true });
    const error = expectWalError(
      () => again.setEncryptionRing(new KeyRing([[7, Buffer.alloc(32, 8)]], 7)),
      'WAL_DECRYPT_FAILED',
    );
    expect(error.details).toEqual({ segment: path, keyId: 7 });
    expect(error.message).toContain('a new key needs a new id');
    await again.close();
  });

  it('wiping what ring.key() returned leaves the key an open log encrypts with', async () => {
    const io = new MemoryStorageIo();
    const ring = testRing();
    const wal = await openMemory(io, { encryption: ring, segmentTargetSize: 4096 });
    ring.key(7).fill(0);
    for (let i = 1n; i <= 100n; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    expect((await wal.listSegments()).length).toBeGreaterThan(1);
    await wal.close();
    const again = await openMemory(io, { encryption: testRing() });
    expect((await collect(again.replay())).length).toBe(100);
    await again.close();
  });

  it('rotation: a new current key encrypts new segments, old keys still decrypt old ones', async () => {
    const io = new MemoryStorageIo();
    const ring = testRing();
    const wal = await openMemory(io, { encryption: ring });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    await wal.close();
    const rotated = ring.rotate(8, KeyRing.generateKey());
    const again = await openMemory(io, { encryption: rotated });
    again.append({ payload: payloadFor(2n) });
    await again.sync();
    expect((await again.listSegments()).map((s) => s.keyId)).toEqual([7, 8]);
    expect((await collect(again.replay())).map((r) => r.lsn)).toEqual([1n, 2n]);
    await again.close();
  });

  // Windows keeps no POSIX mode bits (node:fs reports 0666): who may read is its ACLs' say.
  it.skipIf(process.platform === 'win32')(
    'segment files are created owner-only (0600) on a real file system',
    async () => {
      const dir = tempDir('walnut-seg-');
      const wal = await SegmentedWal.open({
        dir,
        io: new SyncFsStorageIo(),
        encryption: testRing(),
      });
      wal.append({ payload: SECRET });
      await wal.sync();
      await wal.close();
      const segs = readdirSync(dir).filter((n) => n.endsWith('.wal'));
      expect(segs.length).toBe(1);
      expect(statSync(join(dir, segs[0]!)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, segs[0]!)).includes(SECRET)).toBe(false);
    },
  );
});
