import { Errno } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import type { IoCompletion } from '../contract/types.js';
import { FaultyStorageIo } from './faulty.js';
import { UnorderedStorageIo } from './unordered.js';

const PATH = '/d/file';

async function opened(seed: number) {
  const memory = new MemoryStorageIo();
  await memory.mkdir('/d');
  const faulty = new FaultyStorageIo(memory, { seed: 1 });
  const io = new UnorderedStorageIo(faulty, { seed });
  const fd = await io.open(PATH, { create: true });
  return { memory, faulty, io, fd };
}

/** The ops of `tokens`, in the order their completions arrived. */
function arrivals(io: UnorderedStorageIo, tokens: number[]): Promise<IoCompletion[]> {
  const seen: IoCompletion[] = [];
  return new Promise((resolve) => {
    for (const token of tokens)
      io.onCompletion(token, (completion) => {
        seen.push(completion);
        if (seen.length === tokens.length) resolve(seen);
      });
  });
}

/** Two unlinked writes, then the order their completions came in (by offset). */
async function twoWrites(seed: number): Promise<number[]> {
  const { io, fd } = await opened(seed);
  const first = io.submitWrite(fd, Buffer.alloc(10, 1), 0);
  const second = io.submitWrite(fd, Buffer.alloc(10, 2), 10);
  const seen = await arrivals(io, [first, second]);
  await io.closeIo();
  return seen.map((c) => (c.token === first ? 0 : 10));
}

describe('UnorderedStorageIo', () => {
  it('lets a later unlinked operation complete before an earlier one, the same way for a seed', async () => {
    const orders = new Map<number, number[]>();
    for (let seed = 0; seed < 20; seed++) orders.set(seed, await twoWrites(seed));
    const orderings = new Set([...orders.values()].map((o) => o.join()));
    expect(orderings).toEqual(new Set(['0,10', '10,0']));
    for (const [seed, order] of orders) expect(await twoWrites(seed)).toEqual(order);
  });

  it('runs linked operations in order and cancels those behind one that came back short', async () => {
    for (let seed = 0; seed < 10; seed++) {
      const { faulty, io, fd } = await opened(seed);
      faulty.inject({ kind: 'short-write', nth: 1, bytes: 3 });
      const write = io.submitWrite(fd, Buffer.alloc(10, 1), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      const after = io.submitWrite(fd, Buffer.alloc(10, 2), 10, { linkToPrevious: true });
      const seen = await arrivals(io, [write, sync, after]);
      expect(seen.map((c) => [c.token, c.result])).toEqual([
        [write, 3],
        [sync, -Errno.ECANCELED],
        [after, -Errno.ECANCELED],
      ]);
      await io.closeIo();
    }
  });

  it('an fdatasync that ran before an earlier unlinked write leaves that write unsynced', async () => {
    let reordered = 0;
    for (let seed = 0; seed < 20; seed++) {
      const { memory, io, fd } = await opened(seed);
      const write = io.submitWrite(fd, Buffer.alloc(10, 7), 0);
      const sync = io.submitDatasync(fd);
      const seen = await arrivals(io, [write, sync]);
      const durable = memory.durableBytes(PATH)!;
      if (seen[0]!.token === sync) {
        reordered++;
        expect(durable.length).toBe(0);
      } else {
        expect(durable).toEqual(Buffer.alloc(10, 7));
      }
      await io.closeIo();
    }
    expect(reordered).toBeGreaterThan(0);
  });

  it('makes progress for a loop that never yields, through reapCompletions', async () => {
    const { io, fd } = await opened(3);
    const tokens = Array.from({ length: 8 }, (_, i) =>
      io.submitWrite(fd, Buffer.alloc(4, i), i * 4),
    );
    let done = 0;
    for (const token of tokens) io.onCompletion(token, () => done++);
    io.flush();
    for (let i = 0; i < 100 && done < tokens.length; i++) io.reapCompletions();
    expect(done).toBe(tokens.length);
    await io.closeIo();
  });
});
