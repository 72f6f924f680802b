import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';

afterEach(removeTempDirs);

describe.each([
  ['sync-fs', () => new SyncFsStorageIo()],
  ['memory', () => new MemoryStorageIo()],
])('%s delivers completions from the event loop', (_name, make) => {
  it('lets timers run while a caller awaits one completion after another', async () => {
    const io = make();
    const dir = tempDir('walnut-seq-');
    await io.mkdir(dir);
    const fd = await io.open(join(dir, 'f'), { create: true });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const data = Buffer.alloc(64, 1);
    const until = performance.now() + 50;
    let offset = 0;
    while (performance.now() < until) {
      await io.write(fd, data, offset);
      offset += data.length;
    }
    clearInterval(timer);
    await io.close(fd);
    await io.closeIo();
    expect(ticks).toBeGreaterThan(0);
  });

  it('has no completion ready before the loop turns, and all of them after', async () => {
    const io = make();
    const dir = tempDir('walnut-seq-');
    await io.mkdir(dir);
    const fd = await io.open(join(dir, 'f'), { create: true });
    io.submitWrite(fd, Buffer.alloc(8), 0);
    io.submitDatasync(fd, { linkToPrevious: true });
    io.flush();
    expect(io.pollCompletions()).toEqual([]);
    const completions = await io.waitCompletions(2);
    expect(completions.map((c) => [c.op, c.result])).toEqual([
      ['write', 8],
      ['fdatasync', 0],
    ]);
    await io.close(fd);
    await io.closeIo();
  });
});
