import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import {
  type CoreEntry,
  coreEntryFrameSize,
  decodeCoreEntryBody,
  encodeCoreEntryFrame,
} from './core-entry.js';

const head = { coreId: 3, epoch: 5n, sequence: 17n, timestampNs: 1_700_000_000_000_000_000n };

const entries: CoreEntry[] = [
  { op: 'put', key: Buffer.from('k'), value: Buffer.from('value'), ...head },
  { op: 'delete', key: Buffer.from('gone'), ...head },
  { op: 'checkpoint', checkpointId: 99n, ...head },
  {
    op: 'commit',
    offsets: new Map([
      ['orders', 10n],
      ['ünïcode', 2n ** 64n - 1n],
    ]),
    ...head,
  },
  { op: 'commit', offsets: new Map(), watermark: -5n, ...head },
  { op: 'epochBarrier', ...head },
];

describe('per-core entries', () => {
  it.each(entries.map((e) => [e.op, e] as const))('round-trip %s', (_op, entry) => {
    const buf = Buffer.alloc(coreEntryFrameSize(entry));
    expect(encodeCoreEntryFrame(buf, 0, entry)).toBe(buf.length);
    expect(decodeCoreEntryBody(buf.subarray(8))).toEqual(entry);
  });

  it('reject bad fields with WAL_BAD_ARGUMENT', () => {
    const bad = [
      { ...head, op: 'checkpoint', checkpointId: -1n },
      { ...head, op: 'epochBarrier', coreId: 70000 },
      { ...head, op: 'commit', offsets: new Map([['\uD800', 1n]]) },
      { ...head, op: 'commit', offsets: new Map(), watermark: 2n ** 63n },
      { ...head, op: 'nope' },
    ] as unknown as CoreEntry[];
    for (const entry of bad) {
      try {
        coreEntryFrameSize(entry);
        expect.unreachable(`accepted ${entry.op}`);
      } catch (err) {
        expect(isWalError(err, WalErrorCode.BAD_ARGUMENT)).toBe(true);
      }
    }
  });
});
