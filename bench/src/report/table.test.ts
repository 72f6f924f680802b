import { describe, expect, it } from 'vitest';
import { alignedTable } from './table.js';

describe('alignedTable', () => {
  it('pads every column to its widest cell, right-aligned columns to the left', () => {
    const table = alignedTable(
      [
        { title: 'name', align: 'left' },
        { title: 'rate', align: 'right' },
      ],
      [
        ['floor', '1.00×'],
        ['Walnut Wal (io_uring)', '0.77×'],
      ],
    );
    expect(table.split('\n')).toEqual([
      '| name                  |  rate |',
      '| --------------------- | ----: |',
      '| floor                 | 1.00× |',
      '| Walnut Wal (io_uring) | 0.77× |',
    ]);
  });

  it('keeps a separator of at least three dashes for narrow columns', () => {
    expect(alignedTable([{ title: 'w', align: 'left' }], [['a']]).split('\n')[1]).toBe('| --- |');
  });
});
