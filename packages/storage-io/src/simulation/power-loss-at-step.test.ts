import { WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { PowerLossAtStep } from './power-loss-at-step.js';

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe('PowerLossAtStep', () => {
  it('loses power just before the at-th I/O step: what a sync covered stays, the rest goes', async () => {
    const memory = new MemoryStorageIo();
    const io = new PowerLossAtStep(memory, { at: 4, deferred: true });
    const fd = await io.open('/f', { create: true }); // step 0
    await io.syncDirectory('/'); // 1
    io.submitWrite(fd, bytes(100, 1), 0); // 2
    io.submitDatasync(fd); // 3
    await io.waitCompletions(2);
    expect([io.steps, io.cut]).toEqual([4, false]);
    // Step 4 goes through: a deferred cut starts after the caller's synchronous block.
    io.submitWrite(fd, bytes(100, 2), 100);
    expect(io.cut).toBe(false);
    await Promise.resolve();
    expect(io.cut).toBe(true);
    await io.powerOff();
    expect(memory.fileBytes('/f')).toEqual(bytes(100, 1));
  });

  it('without deferred, the step it cuts before already meets a crashed backend', async () => {
    const io = new PowerLossAtStep(new MemoryStorageIo(), { at: 1 });
    const fd = await io.open('/f', { create: true });
    expectWalError(() => io.submitWrite(fd, bytes(10, 1), 0), WalErrorCode.CLOSED);
    expect(io.cut).toBe(true);
  });

  it('counts a submitted open as a step, and open() as one step', async () => {
    const io = new PowerLossAtStep(new MemoryStorageIo(), { at: 2 });
    await io.open('/a', { create: true }); // step 0
    const token = io.submitOpen('/b', { create: true }); // 1
    expect((await io.completion(token)).result).toBeGreaterThanOrEqual(0);
    expect([io.steps, io.cut]).toEqual([2, false]);
    expectWalError(() => io.submitOpen('/c', { create: true }), WalErrorCode.CLOSED);
    expect(io.cut).toBe(true);
  });

  it('built unarmed, counts nothing until arm()', async () => {
    const io = new PowerLossAtStep(new MemoryStorageIo(), { at: 0, armed: false });
    const fd = await io.open('/f', { create: true });
    io.submitWrite(fd, bytes(10, 1), 0);
    expect([io.steps, io.cut]).toEqual([0, false]);
    io.arm();
    expectWalError(() => io.submitDatasync(fd), WalErrorCode.CLOSED);
    expect(io.cut).toBe(true);
  });

  it('cuts the power once: a later crash() or powerOff() waits for the same cut', async () => {
    const io = new PowerLossAtStep(new MemoryStorageIo(), { at: 0 });
    const first = io.powerOff();
    expect(io.crash({ tear: false })).toBe(first);
    await first;
  });
});
