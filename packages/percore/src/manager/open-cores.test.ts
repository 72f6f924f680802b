import { MessageChannel } from 'node:worker_threads';
import { FILE_HEADER_SIZE, WalErrorCode } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyOf } from '../../test/entries.js';
import { CoreWalWriter } from '../write/core-wal-writer.js';
import { PerCoreWalManager } from './manager.js';
import { openHandedOffWriter } from './protocol.js';

const DIR = '/logs';
let io: MemoryStorageIo;
/** A directory right after `create` with three cores: each core file has its writer's lock. */
const THREE_CORES_CREATED = [
  'LOCK',
  'MANIFEST',
  'wal-0.log',
  'wal-0.log.lock',
  'wal-1.log',
  'wal-1.log.lock',
  'wal-2.log',
  'wal-2.log.lock',
];

beforeEach(() => {
  io = new MemoryStorageIo();
});

describe('PerCoreWalManager.create, open and openAndRecover', () => {
  it('creates one file per core and a manifest at checkpoint 0; refuses to create twice', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io });
    expect((await io.readdir(DIR)).sort()).toEqual(THREE_CORES_CREATED);
    expect(manager.manifest.checkpointId).toBe(0n);
    expect(manager.epoch).toBe(0n);
    await manager.close();
    await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io }),
      WalErrorCode.BAD_STATE,
    );
  });

  it('takes baseDir as a file: URL, as node:fs does, and works in the path it names', async () => {
    const manager = await PerCoreWalManager.create({
      baseDir: new URL('file:///logs'),
      numCores: 3,
      io,
    });
    expect(manager.baseDir).toBe(DIR);
    expect((await io.readdir(DIR)).sort()).toEqual(THREE_CORES_CREATED);
    await manager.close();
    const opened = await PerCoreWalManager.open({
      baseDir: new URL('file:///logs'),
      numCores: 3,
      io,
    });
    expect(opened.manifest.checkpointId).toBe(0n);
    await opened.close();
    await expectWalError(
      PerCoreWalManager.open({ baseDir: new URL('https://example.com/logs'), numCores: 3, io }),
      WalErrorCode.BAD_ARGUMENT,
    );
  });

  it("create refuses a segmented log's directory with WAL_NOT_A_LOG and writes nothing there", async () => {
    await io.mkdir(DIR);
    const segment = await io.open(`${DIR}/00000000000000000001.wal`, { create: true });
    await io.close(segment);
    const error = await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io }),
      WalErrorCode.NOT_A_LOG,
    );
    expect(error.message).toContain('holds a segmented log');
    expect(await io.readdir(DIR)).toEqual(['00000000000000000001.wal']);
  });

  it("create refuses someone else's files unless allowOtherFiles is set", async () => {
    await io.mkdir(DIR);
    await io.close(await io.open(`${DIR}/app.sqlite`, { create: true }));
    const error = await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io }),
      WalErrorCode.NOT_A_LOG,
    );
    expect(error.message).toContain('app.sqlite');
    const manager = await PerCoreWalManager.create({
      baseDir: DIR,
      numCores: 1,
      io,
      allowOtherFiles: true,
    });
    await manager.close();
    expect((await io.readdir(DIR)).sort()).toEqual([
      'LOCK',
      'MANIFEST',
      'app.sqlite',
      'wal-0.log',
      'wal-0.log.lock',
    ]);
  });

  it('create and open refuse an unknown config key, naming the likely intended one', async () => {
    const typo = { baseDir: DIR, numCores: 1, io, numcores: 2 };
    for (const opening of [PerCoreWalManager.create(typo), PerCoreWalManager.open(typo)]) {
      await expect(opening).rejects.toMatchObject({
        code: 'WAL_BAD_ARGUMENT',
        message: expect.stringContaining('did you mean numCores?'),
        details: { option: 'numcores' },
      });
    }
    expect(await io.stat(DIR)).toBeNull();
  });

  it.each([
    ['the third core file', { kind: 'eio', op: 'write', nth: 3 }],
    ['the manifest', { kind: 'eio', op: 'write', nth: 4 }],
  ] as const)(
    'a create that fails writing %s leaves the directory as it found it, so create can be retried',
    async (_what, fault) => {
      const faulty = new FaultyStorageIo(io);
      faulty.inject(fault);
      await expectWalError(
        PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io: faulty }),
        WalErrorCode.IO,
      );
      expect(await io.readdir(DIR)).toEqual(['LOCK']);
      const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io: faulty });
      expect((await io.readdir(DIR)).sort()).toEqual(THREE_CORES_CREATED);
      await manager.close();
    },
  );

  it('create starts over after a create a power loss cut short (headers at most, no MANIFEST)', async () => {
    await io.mkdir(DIR);
    for (const [name, size] of [
      ['wal-0.log', 64],
      ['wal-1.log', 20],
      ['MANIFEST.tmp', 0],
    ] as const) {
      const fd = await io.open(`${DIR}/${name}`, { create: true });
      await io.write(fd, Buffer.alloc(size, 7), 0);
      await io.close(fd);
    }
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io });
    expect((await io.readdir(DIR)).sort()).toEqual(THREE_CORES_CREATED);
    await manager.close();
  });

  it('create still refuses core files that hold more than a header, MANIFEST or not', async () => {
    await io.mkdir(DIR);
    const fd = await io.open(`${DIR}/wal-0.log`, { create: true });
    await io.write(fd, Buffer.alloc(65, 7), 0);
    await io.close(fd);
    await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io }),
      WalErrorCode.BAD_STATE,
    );
    expect(await io.stat(`${DIR}/wal-0.log`)).toEqual(expect.objectContaining({ size: 65 }));
  });

  it("a create that fails beside a live manager leaves its writers' locks alone", async () => {
    const live = await PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io });
    // Refused at the directory's lock: nothing here is this create's to clean up.
    await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io }),
      WalErrorCode.LOCKED,
    );
    expect((await io.readdir(DIR)).sort()).toEqual(THREE_CORES_CREATED);
    // So a writer that would cut a live core file is still refused.
    await expectWalError(
      CoreWalWriter.openAt(1, `${DIR}/wal-1.log`, FILE_HEADER_SIZE, { io }),
      WalErrorCode.LOCKED,
    );
    await live.close();
  });

  it("a create refused for the logs already there leaves their writers' locks alone", async () => {
    const first = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    const { port1, port2 } = new MessageChannel();
    const handoff = await first.handOff(1, port1);
    const writer = await openHandedOffWriter(handoff, { io });
    writer.appendPut(Buffer.from('k'), Buffer.from('v'));
    await writer.sync();
    // The worker writes core 1 on after its manager closed: the directory's lock is free.
    await first.close();
    port1.close();
    port2.close();
    await expectWalError(
      PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io }),
      WalErrorCode.BAD_STATE,
    );
    expect(await io.readdir(DIR)).toContain('wal-1.log.lock');
    await expectWalError(
      PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io }),
      WalErrorCode.LOCKED,
    );
    await writer.close();
  });

  it('holds the directory lock while open, and the refusal names what can read beside it', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const error = await expectWalError(
      PerCoreWalManager.open({ baseDir: DIR, numCores: 1, io }),
      WalErrorCode.LOCKED,
    );
    // There is no read-only manager: the generic "open this one read-only" would mislead.
    expect(error.message).not.toMatch(/read-only/);
    expect(error.message).toMatch(/PerCoreWalReader/);
    await manager.close();
  });

  it('after a power loss: synced entries come back, unsynced ones and the torn tail are gone, writers resume', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    await manager.checkpoint(1n);
    const w0 = manager.writer(0);
    w0.appendPut(Buffer.from('a'), Buffer.from('1'));
    await w0.sync();
    w0.appendPut(Buffer.from('unsynced'), Buffer.alloc(2000));
    io.simulatePowerLoss({ tear: true, seed: 7 });

    const reopened = await PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io });
    expect(reopened.epoch).toBe(1n);
    const recovered = await reopened.recover();
    expect(recovered.entries.map(keyOf)).toEqual(['a']);
    const writer = reopened.writer(0);
    expect(writer.sequence).toBe(2n); // the barrier was 1
    writer.appendDelete(Buffer.from('b'));
    await writer.sync();
    expect((await reopened.recover()).entries.map((e) => e.sequence)).toEqual([2n, 3n]);
    await reopened.close();
  });

  it('openAndRecover reads each file once and returns what open + recover() would', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    await manager.checkpoint(1n);
    for (let i = 0; i < 20; i++)
      manager.writer(i % 2).appendPut(Buffer.from(`k${i}`), Buffer.alloc(i * 10));
    await manager.writer(0).sync();
    manager.writer(1).appendDelete(Buffer.from('torn-away'));
    await manager.writer(1).sync();
    manager.writer(1).appendPut(Buffer.from('unsynced'), Buffer.alloc(3000));
    io.simulatePowerLoss({ tear: true, seed: 3 });

    const { manager: reopened, recovery } = await PerCoreWalManager.openAndRecover({
      baseDir: DIR,
      numCores: 2,
      io,
    });
    const again = await reopened.recover();
    expect(recovery.entries.map(keyOf)).toEqual(again.entries.map(keyOf));
    expect(recovery.entries).toHaveLength(21);
    expect(recovery.cores.map((c) => c.count)).toEqual([10, 11]);
    expect(reopened.writer(1).position).toBe(again.cores[1]!.end);
    await reopened.close();
  });

  it('continues above the epoch of barriers whose checkpoint never got its manifest', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    // A checkpoint that crashed after its barrier was synced, before the manifest.
    const writer = manager.writer(0);
    writer.setEpoch(manager.advanceEpoch());
    writer.appendEpochBarrier();
    await writer.sync();
    io.simulatePowerLoss();
    const reopened = await PerCoreWalManager.open({ baseDir: DIR, numCores: 1, io });
    expect(reopened.manifest.epoch).toBe(0n);
    expect(reopened.epoch).toBe(1n);
    expect((await reopened.checkpoint(1n)).epoch).toBe(2n);
    await reopened.close();
  });

  it('mid-file corruption fails open with the core, file and offset', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    const w1 = manager.writer(1);
    const first = w1.appendPut(Buffer.from('a'), Buffer.alloc(50));
    w1.appendPut(Buffer.from('b'), Buffer.alloc(50));
    await manager.close();
    const fd = await io.open(`${DIR}/wal-1.log`);
    await io.write(fd, Buffer.from([0xde, 0xad]), first - 20);
    await io.close(fd);
    const error = await expectWalError(
      PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io }),
      WalErrorCode.CORRUPT,
    );
    expect((error as { details: object }).details).toMatchObject({
      coreId: 1,
      segment: `${DIR}/wal-1.log`,
      offset: 64,
    });
  });

  it('a core file listed in the manifest but missing is an error', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    await manager.close();
    await io.unlink(`${DIR}/wal-1.log`);
    await expectWalError(
      PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io }),
      WalErrorCode.MISSING_SEGMENT,
    );
  });

  it('files from a larger core count are reported and recovered, then covered by the next checkpoint', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 3, io });
    manager.writer(2).appendPut(Buffer.from('on-core-2'), Buffer.from('v'));
    manager.writer(0).appendPut(Buffer.from('on-core-0'), Buffer.from('v'));
    await manager.close();

    const smaller = await PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io });
    expect(smaller.strayCores).toMatchObject([{ coreId: 2, path: `${DIR}/wal-2.log` }]);
    expect(smaller.strayCores[0]!.unreplayedBytes).toBeGreaterThan(0);
    expect(smaller.writerChecked(2)).toBeUndefined();
    const recovered = await smaller.recover();
    expect(recovered.entries.map(keyOf).sort()).toEqual(['on-core-0', 'on-core-2']);
    expect(recovered.cores.find((c) => c.coreId === 2)?.stray).toBe(true);
    await smaller.checkpoint(1n);
    expect((await smaller.recover()).entries).toEqual([]);
    await smaller.close();
  });

  it('a larger core count gets new files', async () => {
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    await manager.close();
    const larger = await PerCoreWalManager.open({ baseDir: DIR, numCores: 2, io });
    larger.writer(1).appendDelete(Buffer.from('x'));
    await larger.checkpoint(1n);
    expect(larger.manifest.cores.map((c) => c.coreId)).toEqual([0, 1]);
    await larger.close();
  });
});
