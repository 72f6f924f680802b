import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runOrders } from './orders.js';

it('creates, appends with an idempotent producer, reads and tails live with the npm client', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-orders-test-'));
  const lines: string[] = [];
  try {
    await runOrders(dir, (line) => lines.push(line));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect(lines).toEqual([
    'read: walnuts, pecans',
    'tail: walnuts, pecans, almonds, hazelnuts',
    'closed at 0000000000000000_0000000000000004',
  ]);
});
