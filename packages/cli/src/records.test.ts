import { expect, it } from 'vitest';
import { recordJson, recordLine } from './records.js';

const record = { lsn: 7n, type: 0, payload: Buffer.from('hi') };
const T = Date.UTC(2026, 10, 24, 10, 0, 0, 123);

it('shows a record time (format version 2) as ISO text and as ms in JSON', () => {
  expect(recordLine({ ...record, time: T })).toContain('2026-11-24T10:00:00.123Z');
  expect(JSON.parse(recordJson({ ...record, time: T })).time).toBe(T);
});

it('shows no time for a record of format version 1', () => {
  expect(recordLine(record)).not.toMatch(/T\d\d:/);
  expect(JSON.parse(recordJson(record)).time).toBeUndefined();
});
