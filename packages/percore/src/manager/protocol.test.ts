import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { WalErrorCode } from '@walnut/codec';
import { FaultyStorageIo, type IoLock, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { coreLockPath } from '../files/core-lock.js';
import { readManifest } from '../files/manifest.js';
import { PerCoreWalManager } from './manager.js';
import { openHandedOffWriter, releaseCoreWriter, serveCoreWriter } from './protocol.js';

// The protocol over a real MessageChannel, with the "worker" side in this thread.
const DIR = '/proto';
const open: MessagePort[] = [];
afterEach(() => {
  for (const port of open.splice(0)) port.close();
});

function channel(): [MessagePort, MessagePort] {
  const { port1, port2 } = new MessageChannel();
  open.push(port1, port2);
  return [port1, port2];
}

/** An endpoint whose "worker" replies are delivered by the test, at the moment it picks. */
function scriptedEndpoint(): MessagePort & { deliver(message: unknown): void } {
  const emitter = new EventEmitter();
  return Object.assign(emitter, {
    postMessage() {},
    deliver: (message: unknown) => emitter.emit('message', message),
  }) as unknown as MessagePort & { deliver(message: unknown): void };
}

/** Calls `onLock` just after a lock on `path` is taken. */
class LockWatchingIo extends FaultyStorageIo {
  onLock: ((path: string) => void) | undefined;
  override async lock(path: string): Promise<IoLock> {
    const lock = await super.lock(path);
    this.onLock?.(path);
    return lock;
  }
}

/** A core handed off to a worker that wrote `puts` entries, synced and closed its writer. */
async function releasedByWorker(puts: number) {
  const io = new LockWatchingIo(new MemoryStorageIo());
  const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
  const endpoint = scriptedEndpoint();
  const writer = await openHandedOffWriter(await manager.handOff(0, endpoint), { io });
  for (let i = 0; i < puts; i++) writer.appendPut(Buffer.from(`k${i}`), Buffer.from('v'));
  await writer.close();
  const released = { type: 'walnut:released', coreId: 0, requestId: 0, resume: writer.resumePoint };
  return { io, manager, path: writer.path, release: () => endpoint.deliver(released) };
}

describe('manager ↔ worker protocol', () => {
  it('a checkpoint reaches a handed-off writer and records its barrier', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    const [managerSide, workerSide] = channel();
    const handoff = await manager.handOff(1, managerSide);
    expect(() => manager.writer(1)).toThrowError(/handed off/);
    const writer = await openHandedOffWriter(handoff, { io });
    serveCoreWriter(writer, workerSide);
    writer.appendPut(Buffer.from('k'), Buffer.from('v'));

    const manifest = await manager.checkpoint(1n);
    expect(writer.epoch).toBe(1n);
    expect(manifest.cores[1]!.position).toBe(writer.position);
    expect(manifest.cores[1]!.sequence).toBe(2n);
    expect(writer.syncedPosition).toBe(writer.position);
    await writer.close();
    await manager.close();
  });

  it('handOff refuses an endpoint that cannot carry the protocol, and the core keeps its writer', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const notAPort = { postMessage() {} } as unknown as MessagePort;
    const error = await expectWalError(manager.handOff(0, notAPort), WalErrorCode.BAD_ARGUMENT);
    expect(error.message).toContain('it lacks on, off');
    expect(error.message).toContain('a MessageChannel from node:worker_threads');
    manager.writer(0).appendPut(Buffer.from('k'), Buffer.from('v'));
    expect((await manager.checkpoint(1n)).cores[0]!.sequence).toBe(2n);
    await manager.close();
  });

  it('reclaim reaches a handed-off writer, which keeps appending to the rewritten file', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const [managerSide, workerSide] = channel();
    const writer = await openHandedOffWriter(await manager.handOff(0, managerSide), { io });
    serveCoreWriter(writer, workerSide);
    for (let i = 0; i < 50; i++) writer.appendPut(Buffer.from(`k${i}`), Buffer.alloc(100));
    const { cores } = await manager.checkpoint(1n);
    writer.appendDelete(Buffer.from('after'));

    const [reclaimed] = await manager.reclaim();
    expect(reclaimed).toEqual({ coreId: 0, freedBytes: cores[0]!.position - 64 });
    writer.appendDelete(Buffer.from('after-reclaim'));
    await writer.sync();
    const keys = (await manager.recover()).entries.map(
      (e) => e.op === 'delete' && e.key.toString(),
    );
    expect(keys).toEqual(['after', 'after-reclaim']);
    await writer.close();
    await manager.close();
  });

  it('a worker that does not answer fails the checkpoint with WAL_TIMEOUT and no manifest is written', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({
      baseDir: DIR,
      numCores: 1,
      io,
      requestTimeoutMs: 50,
    });
    const [managerSide] = channel();
    await manager.handOff(0, managerSide);
    await expectWalError(manager.checkpoint(1n), WalErrorCode.TIMEOUT);
    expect((await readManifest(io, DIR))?.checkpointId).toBe(0n);
    await manager.close();
  });

  it('a worker whose sync fails makes the checkpoint fail with its error code', async () => {
    const memory = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io: memory });
    const [managerSide, workerSide] = channel();
    const handoff = await manager.handOff(0, managerSide);
    const faulty = new FaultyStorageIo(memory);
    const writer = await openHandedOffWriter(handoff, { io: faulty });
    serveCoreWriter(writer, workerSide);
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(manager.checkpoint(1n), WalErrorCode.IO);
    expect(manager.manifest.checkpointId).toBe(0n);
    await manager.close();
  });

  it('a handoff opens its core once: reused after its worker wrote on, it is refused and nothing is cut', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const [managerSide] = channel();
    const handoff = await manager.handOff(0, managerSide);
    const first = await openHandedOffWriter(handoff, { io });
    first.appendPut(Buffer.from('k'), Buffer.from('v'));
    await first.sync();
    const written = first.position;
    await first.close(); // as a terminated worker's writer, whose lock is gone
    const error = await expectWalError(
      openHandedOffWriter(handoff, { io }),
      WalErrorCode.BAD_STATE,
    );
    expect(error.message).toMatch(/opens its core once/);
    const fd = await io.open(handoff.path);
    expect(await io.size(fd)).toBe(written);
    await io.close(fd);
    await manager.close();
  });

  it('a core whose worker ended unreleased is taken back with its entries; a waiting checkpoint completes', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const [managerSide, workerSide] = channel();
    const writer = await openHandedOffWriter(await manager.handOff(0, managerSide), { io });
    const stopServing = serveCoreWriter(writer, workerSide);
    for (const key of ['a', 'b', 'c']) writer.appendPut(Buffer.from(key), Buffer.from('v'));
    await writer.sync();
    // The worker ends without releaseCoreWriter: it answers nothing, its lock is gone.
    stopServing();
    await writer.close();
    const checkpoint = manager.checkpoint(1n);
    await manager.takeBack(0);
    const manifest = await checkpoint;
    expect(manifest.cores[0]!.sequence).toBe(4n); // the three puts, then the barrier
    expect(manager.writer(0).sequence).toBe(4n);
    // And it can be handed off again.
    const [again] = channel();
    const next = await openHandedOffWriter(await manager.handOff(0, again), { io });
    expect(next.sequence).toBe(4n);
    await next.close();
    await manager.close();
  });

  it('takeBack refuses, cutting nothing, while the worker still has the core open', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    const [managerSide] = channel();
    const writer = await openHandedOffWriter(await manager.handOff(1, managerSide), { io });
    writer.appendPut(Buffer.from('k'), Buffer.from('v'));
    await writer.sync();
    await expectWalError(manager.takeBack(1), WalErrorCode.LOCKED);
    expect(writer.position).toBeGreaterThan(0);
    writer.appendPut(Buffer.from('k2'), Buffer.from('v'));
    await writer.sync();
    await expectWalError(manager.takeBack(0), WalErrorCode.BAD_STATE);
    await writer.close();
    await manager.takeBack(1);
    expect(manager.writer(1).sequence).toBe(2n);
    await manager.close();
  });

  it('a released core is taken back: a pending checkpoint completes in-process', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const [managerSide, workerSide] = channel();
    const handoff = await manager.handOff(0, managerSide);
    const writer = await openHandedOffWriter(handoff, { io });
    writer.appendDelete(Buffer.from('x'));
    // The worker stops serving before the request arrives, then releases the core.
    const checkpoint = manager.checkpoint(1n);
    await releaseCoreWriter(writer, workerSide, () => {});
    const manifest = await checkpoint;
    expect(manifest.cores[0]!.sequence).toBe(2n); // the delete, then the manager's barrier
    expect(manager.writer(0).sequence).toBe(2n);
    await manager.close();
  });

  it('writerAfterRelease resolves once the release reached the manager and the writer is reopened', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io });
    expect(await manager.writerAfterRelease(1)).toBe(manager.writer(1));
    const [managerSide, workerSide] = channel();
    const writer = await openHandedOffWriter(await manager.handOff(0, managerSide), { io });
    const stopServing = serveCoreWriter(writer, workerSide);
    writer.appendPut(Buffer.from('k'), Buffer.from('v'));
    const back = manager.writerAfterRelease(0);
    await releaseCoreWriter(writer, workerSide, stopServing);
    // The worker is done, but its release is still on its way to the manager.
    expect(() => manager.writer(0)).toThrowError(/handed off/);
    const reopened = await back;
    expect(reopened).toBe(manager.writer(0));
    expect(reopened.sequence).toBe(1n);
    await manager.close();
  });

  it('writerAfterRelease is WAL_TIMEOUT naming takeBack when no release comes, WAL_CLOSED when the manager closes', async () => {
    const io = new MemoryStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 1, io });
    const [managerSide] = channel();
    const writer = await openHandedOffWriter(await manager.handOff(0, managerSide), { io });
    const late = await expectWalError(manager.writerAfterRelease(0, 20), WalErrorCode.TIMEOUT);
    expect(late.message).toMatch(/within 20 ms.*manager\.takeBack\(0\)/);
    await expectWalError(manager.writerAfterRelease(0, -1), WalErrorCode.BAD_ARGUMENT);
    const waiting = manager.writerAfterRelease(0);
    await writer.close();
    await manager.close();
    await expectWalError(waiting, WalErrorCode.CLOSED);
  });

  it('a release landing while takeBack holds the core leaves the core its writer', async () => {
    const { io, manager, path, release } = await releasedByWorker(3);
    io.onLock = (locked) => {
      if (locked === coreLockPath(path)) release();
    };
    await manager.takeBack(0);
    io.onLock = undefined;
    expect(manager.writer(0).sequence).toBe(3n);
    expect((await manager.checkpoint(1n)).cores[0]!.sequence).toBe(4n);
    await manager.close();
  });

  it('a release landing before takeBack reaches the lock leaves the core its writer', async () => {
    const { manager, release } = await releasedByWorker(3);
    const taking = manager.takeBack(0);
    release();
    await taking;
    expect(manager.writer(0).sequence).toBe(3n);
    expect((await manager.checkpoint(1n)).cores[0]!.sequence).toBe(4n);
    await manager.close();
  });

  it('a released core whose writer fails to reopen says why, and takeBack reopens it', async () => {
    const { io, manager, release } = await releasedByWorker(2);
    io.inject({ kind: 'eio', op: 'open', nth: 1 });
    release();
    // The checkpoint waiting on the reopen fails with its cause; later ones say what to do.
    await expectWalError(manager.checkpoint(1n), WalErrorCode.IO);
    const refused = await expectWalError(manager.checkpoint(1n), WalErrorCode.BAD_STATE);
    expect(refused.message).toMatch(
      /reopening it here failed \(open failed with EIO.*manager\.takeBack\(0\)/,
    );
    expect(() => manager.writer(0)).toThrowError(/has no writer/);
    await manager.takeBack(0);
    expect(manager.writer(0).sequence).toBe(2n);
    expect((await manager.checkpoint(1n)).cores[0]!.sequence).toBe(3n);
    await manager.close();
  });

  it('failure in one core during a checkpoint leaves the previous manifest in force (in-process)', async () => {
    const memory = new MemoryStorageIo();
    const faulty = new FaultyStorageIo(memory);
    const manager = await PerCoreWalManager.create({ baseDir: DIR, numCores: 2, io: faulty });
    await manager.checkpoint(1n);
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    await expectWalError(manager.checkpoint(2n), WalErrorCode.IO);
    expect((await readManifest(memory, DIR))?.checkpointId).toBe(1n);
    await manager.close().catch(() => {});
  });
});
