import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runsOf } from '../test/rows-file-runs.js';
import { encodeRowsChunks, encodeRowsHead, type RowsRun } from './rows-file.js';
import { ROW } from './stream-index.js';

const run = (id: number, first: number, rows: number[]): RowsRun => ({
  id,
  first,
  rows: new Float64Array(rows),
});

describe('the index rows file', () => {
  it('reads back whatever runs are written, however they fall into chunks', async () => {
    const runs = fc.array(
      fc.record({
        id: fc.integer({ min: 1, max: 2 ** 40 }),
        first: fc.nat(),
        rows: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { maxLength: 20 }),
      }),
      { maxLength: 12 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(runs, { maxLength: 5 }), async (checkpoints) => {
        const file = Buffer.concat([
          encodeRowsHead(5),
          ...checkpoints.map((c) =>
            encodeRowsChunks(c.map((r) => run(r.id, r.first, r.rows.flat()))),
          ),
        ]);
        const expected = checkpoints
          .flat()
          .filter((r) => r.rows.length > 0)
          .map((r) => ({ id: r.id, first: r.first, rows: r.rows.flat() }));
        expect(await runsOf(file, 5)).toEqual({
          rows: expected.reduce((n, r) => n + r.rows.length / ROW, 0),
          runs: expected.length,
          list: expected,
        });
      }),
    );
  });
});
