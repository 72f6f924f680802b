import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { StorageIo } from '../contract/types.js';
import { ioUringForTests } from '../testing/io-uring-for-tests.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { IoUringStorageIo } from './io-uring.js';
import { SyncFsStorageIo } from './sync-fs.js';

interface Step {
  readonly kind: 'write' | 'bad-write' | 'sync' | 'bad-sync';
  readonly link: boolean;
  readonly flushAfter: boolean;
  readonly length: number;
}

const step = fc.record({
  kind: fc.constantFrom('write', 'write', 'sync', 'bad-write', 'bad-sync'),
  link: fc.boolean(),
  flushAfter: fc.boolean(),
  length: fc.integer({ min: 1, max: 3000 }),
}) as fc.Arbitrary<Step>;

const dir = tempDir('walnut-linking-');
afterAll(removeTempDirs);

/** Runs the steps and returns each submission's result, in submission order. */
async function run(io: StorageIo, steps: readonly Step[], file: string): Promise<number[]> {
  const fd = await io.open(join(dir, file), { create: true, truncate: true });
  const tokens: number[] = [];
  let offset = 0;
  for (const s of steps) {
    const options = { linkToPrevious: s.link };
    const target = s.kind.startsWith('bad') ? 1_000_000 : fd;
    if (s.kind === 'write' || s.kind === 'bad-write') {
      tokens.push(io.submitWrite(target, Buffer.alloc(s.length, 1), offset, options));
      offset += s.length;
    } else {
      tokens.push(io.submitDatasync(target, options));
    }
    if (s.flushAfter) io.flush();
  }
  const results = await Promise.all(tokens.map((token) => io.completion(token)));
  await io.close(fd);
  return results.map((c) => c.result);
}

const ring = ioUringForTests();

describe.skipIf(ring.skip !== false)(ring.title('linkToPrevious on io_uring'), () => {
  it('gives every submission the result the in-order model gives it', async () => {
    const uring = IoUringStorageIo.create({ entries: 4 });
    const model = new SyncFsStorageIo();
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        round++;
        const expected = await run(model, steps, `model-${round}`);
        const actual = await run(uring, steps, `uring-${round}`);
        expect(actual).toEqual(expected);
      }),
      { numRuns: 40 },
    );
    await uring.closeIo();
    await model.closeIo();
  });
});
