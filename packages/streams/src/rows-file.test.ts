import { describe, expect, it } from 'vitest';
import { runsOf } from '../test/rows-file-runs.js';
import {
  decodeRowsHead,
  encodeRowsChunks,
  encodeRowsHead,
  MAX_CHUNK_BODY,
  type RowsRun,
  readRowsFile,
  rowsFileName,
} from './rows-file.js';
import { ROW } from './stream-index.js';

const run = (id: number, first: number, rows: number[]): RowsRun => ({
  id,
  first,
  rows: new Float64Array(rows),
});

describe('the index rows file', () => {
  it('names its generation in a head of its own, and alternates between two names', () => {
    expect(decodeRowsHead(encodeRowsHead(7))).toBe(7);
    const damaged = encodeRowsHead(7);
    damaged[9]! ^= 1;
    expect(decodeRowsHead(damaged)).toBeUndefined();
    expect([1, 2, 3].map(rowsFileName)).toEqual([
      'streams.rows.1',
      'streams.rows.0',
      'streams.rows.1',
    ]);
  });

  it('reads back each chunk appended after the head, run by run, in order', async () => {
    const file = Buffer.concat([
      encodeRowsHead(3),
      encodeRowsChunks([run(1, 0, [0, 10, 40, 2, 11, 41]), run(2, 0, [0, 12, 30])]),
      encodeRowsChunks([run(1, 2, [5, 13, 40])]),
      encodeRowsChunks([]),
    ]);
    expect(await runsOf(file, 3)).toEqual({
      rows: 4,
      runs: 3,
      list: [
        { id: 1, first: 0, rows: [0, 10, 40, 2, 11, 41] },
        { id: 2, first: 0, rows: [0, 12, 30] },
        { id: 1, first: 2, rows: [5, 13, 40] },
      ],
    });
  });

  it('counts only the bytes a checkpoint names: a chunk past them is not read', async () => {
    const counted = Buffer.concat([encodeRowsHead(1), encodeRowsChunks([run(4, 0, [0, 1, 2])])]);
    const file = Buffer.concat([counted, encodeRowsChunks([run(4, 1, [1, 2, 3])])]);
    expect((await runsOf(file, 1, counted.length))?.list).toHaveLength(1);
  });

  it.each([
    ['of another generation', (file: Buffer) => file, 2, 0],
    ['shorter than the checkpoint counts', (file: Buffer) => file.subarray(0, -8), 1, 0],
    ['longer than counted, mid-chunk', (file: Buffer) => file, 1, -8],
    ['with a damaged row', (file: Buffer) => flip(file, file.length - 3), 1, 0],
    ['with a damaged chunk head', (file: Buffer) => flip(file, 16 + 5), 1, 0],
  ])('is refused when %s', async (_what, damage, generation, cut) => {
    const file = Buffer.concat([encodeRowsHead(1), encodeRowsChunks([run(4, 0, [0, 1, 2])])]);
    expect(await runsOf(damage(file), generation, file.length + cut)).toBeUndefined();
  });

  it('is refused when the reader turns a run down', async () => {
    const file = Buffer.concat([encodeRowsHead(1), encodeRowsChunks([run(4, 0, [0, 1, 2])])]);
    const read = async (offset: number, length: number) => file.subarray(offset, offset + length);
    expect(await readRowsFile(read, 1, file.length, () => false)).toBeUndefined();
  });

  it('splits a run too large for one chunk into pieces that start where the last ended', async () => {
    const rows = Math.floor(MAX_CHUNK_BODY / 8 / ROW) * 2 + 5;
    const numbers = Array.from({ length: rows * ROW }, (_, i) => i);
    const chunks = encodeRowsChunks([run(9, 100, numbers)]);
    const read = await runsOf(Buffer.concat([encodeRowsHead(1), chunks]), 1);
    expect(read?.rows).toBe(rows);
    expect(read?.runs).toBe(3);
    const pieces = read!.list;
    expect(pieces.map((r) => r.first)).toEqual([
      100,
      100 + pieces[0]!.rows.length / ROW,
      100 + (pieces[0]!.rows.length + pieces[1]!.rows.length) / ROW,
    ]);
    expect(pieces.flatMap((r) => r.rows)).toEqual(numbers);
  });
});

function flip(file: Buffer, at: number): Buffer {
  const copy = Buffer.from(file);
  copy[at]! ^= 0x40;
  return copy;
}
