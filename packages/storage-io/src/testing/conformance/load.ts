import { readFully } from '../../contract/read-fully.js';
import { type ConformanceSuite, check, collect, expectBytes, MiB, pattern } from './suite.js';
import { expect } from './vitest-lazy.js';

/** Load a backend must carry: many operations in flight, one large buffer, many callers at once. */
export function loadChecks(suite: ConformanceSuite): void {
  check(suite, 'keeps at least 1024 operations in flight', async ({ io, openFile }) => {
    const fd = await openFile();
    const count = 2048;
    const block = 4096;
    const tokens = new Set<number>();
    for (let i = 0; i < count; i++) {
      const data = Buffer.alloc(block, i & 0xff);
      tokens.add(io.submitWrite(fd, data, i * block));
    }
    expect(io.inFlight).toBe(count);
    const completions = await collect(io, count);
    expect(completions).toHaveLength(count);
    for (const c of completions) {
      expect(tokens.has(c.token)).toBe(true);
      expect(c.result).toBe(block);
    }
    expect(await io.size(fd)).toBe(count * block);
    const probe = Buffer.alloc(block);
    await readFully(io, fd, probe, 1234 * block);
    expectBytes(probe, Buffer.alloc(block, 1234 & 0xff));
  });

  check(suite, 'writes a single 64 MiB buffer', async ({ io, openFile }) => {
    const fd = await openFile();
    const size = 64 * MiB;
    const data = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i += 4096) data.fill(i / 4096, i, i + 4096);
    expect(await io.write(fd, data, 0)).toBe(size);
    await io.datasync(fd);
    expect(await io.size(fd)).toBe(size);
    const tail = Buffer.alloc(4096);
    expect(await readFully(io, fd, tail, size - 4096)).toBe(4096);
    expectBytes(tail, data.subarray(size - 4096));
  });

  check(suite, 'serves promise helpers from many interleaved callers', async ({ io, openFile }) => {
    const fd = await openFile();
    const callers = 64;
    const region = 3000;
    const unclaimed = io.submitFsync(fd);
    await Promise.all(
      Array.from({ length: callers }, async (_, i) => {
        const data = pattern(region, i);
        await io.write(fd, data, i * region);
        await io.datasync(fd);
        const back = Buffer.alloc(region);
        expect(await readFully(io, fd, back, i * region)).toBe(region);
        expectBytes(back, data);
      }),
    );
    const leftovers = await io.waitCompletions(1);
    expect(leftovers.map((c) => c.token)).toEqual([unclaimed]);
    expect(io.inFlight).toBe(0);
  });
}
