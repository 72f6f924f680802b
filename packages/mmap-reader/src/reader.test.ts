import { randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BodyKind,
  Errno,
  encodeCoreEntryFrame,
  encodeFileHeader,
  encodeFrame,
  KeyRing,
  recordFrameSize,
  WalErrorCode,
  type WalRecordInput,
} from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSegment, type FrameSpec, records } from '../test/segments.js';
import { RUN_FRAMES } from './frame-source.js';
import { MmapWalReader } from './reader.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-mmap-');
});
afterEach(removeTempDirs);

let fileCount = 0;
function writeFile(bytes: Uint8Array): string {
  const path = join(dir, `file-${fileCount++}.wal`);
  writeFileSync(path, bytes);
  return path;
}

function segment(frames: FrameSpec[], tail?: Uint8Array, firstLsn = 1n) {
  const built = buildSegment({ firstLsn, frames, tail });
  return { ...built, path: writeFile(built.bytes) };
}

function lsnsOf(reader: MmapWalReader): bigint[] {
  return [...reader.records()].map((r) => r.lsn);
}

const ring = new KeyRing({ 7: randomBytes(32) }, 7);

describe.each(['mmap', 'read'] as const)('MmapWalReader in %s mode', (mode) => {
  const open = (
    path: string,
    options: { keyRing?: KeyRing; maxFrameBody?: number; lastLsn?: bigint } = {},
  ) => MmapWalReader.open(path, { mode, ...options });

  describe('with lastLsn (the LSN a sealed segment ends at)', () => {
    it('reads a segment that ends there, zero fill after it included, to a clean end', () => {
      const seg = segment([...records(2), { batch: records(3) }], Buffer.alloc(300));
      const reader = open(seg.path, { lastLsn: 5n });
      expect(lsnsOf(reader)).toEqual([1n, 2n, 3n, 4n, 5n]);
      expect(reader.stopReason?.kind).toBe('eof');
    });

    it('stops as corrupt at an end of data before it, having handed out what came before', () => {
      const seg = segment(records(4), Buffer.alloc(300));
      const reader = open(seg.path, { lastLsn: 6n });
      expect(lsnsOf(reader)).toEqual([1n, 2n, 3n, 4n]);
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: seg.bytes.length - 300 });
      expect(reader.stopReason?.reason).toMatch(/end at LSN 4 but the log has LSNs up to 6/);
    });

    it('stops as corrupt at a torn frame before it too: the file was cut', () => {
      const seg = segment(records(4));
      const cut = writeFile(seg.bytes.subarray(0, seg.end - 3));
      const reader = open(cut, { lastLsn: 4n });
      expect(lsnsOf(reader)).toEqual([1n, 2n, 3n]);
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: seg.frameOffsets[3] });
      // Without lastLsn the same bytes are a torn tail, as a writer's crash leaves.
      expect(open(cut).stopReason).toBeNull();
      const plain = open(cut);
      lsnsOf(plain);
      expect(plain.stopReason?.kind).toBe('torn');
    });

    it('stops as corrupt at the first frame past it, plain or batch, handing out nothing of it', () => {
      for (const frames of [records(5), [...records(2), { batch: records(3) }]]) {
        const seg = segment(frames);
        const reader = open(seg.path, { lastLsn: 3n });
        expect(lsnsOf(reader).every((lsn) => lsn <= 3n)).toBe(true);
        expect(reader.stopReason?.kind).toBe('corrupt');
      }
    });

    it('opens a file named by a file: URL, and refuses a URL of another scheme', () => {
      const seg = segment(records(2));
      const reader = MmapWalReader.open(pathToFileURL(seg.path), { mode });
      expect(reader.path).toBe(seg.path);
      expect(lsnsOf(reader)).toEqual([1n, 2n]);
      expectWalError(
        () => MmapWalReader.open(new URL('https://example.com/x.wal'), { mode }),
        'WAL_BAD_ARGUMENT',
      );
    });

    it('refuses an option it does not know, naming the one meant', () => {
      const seg = segment(records(1));
      const error = expectWalError(
        () => MmapWalReader.open(seg.path, { mode, lastLSN: 1n } as never),
        'WAL_BAD_ARGUMENT',
      );
      expect(error.message).toContain('lastLsn');
    });

    it('refuses a drain callback that is not a function', () => {
      const reader = open(segment(records(1)).path);
      expectWalError(() => reader.drain(42 as never), 'WAL_BAD_ARGUMENT');
      expect(lsnsOf(reader)).toEqual([1n]);
    });

    it('refuses a lastLsn that is not a bigint', () => {
      const seg = segment(records(1));
      expectWalError(
        () => MmapWalReader.open(seg.path, { mode, lastLsn: 1 as never }),
        'WAL_BAD_ARGUMENT',
      );
    });
  });

  it('reads records and batches in LSN order and stops with eof at the end of the data', () => {
    const input: WalRecordInput = {
      type: 513,
      payload: Buffer.from('full'),
      meta: Buffer.from('m'),
      tenantId: 9n,
      vshardId: 3,
      databaseId: 2n ** 63n,
    };
    const seg = segment([...records(2), { batch: records(3) }, input], undefined, 10n);
    const reader = open(seg.path);
    expect(reader.mode).toBe(mode);
    expect(reader.header?.firstLsn).toBe(10n);
    expect(reader.offset).toBe(64);
    const got = [...reader.records()];
    expect(got.map((r) => r.lsn)).toEqual([10n, 11n, 12n, 13n, 14n, 15n]);
    expect(got.map((r) => r.payload.toString()).slice(0, 5)).toEqual([
      'payload-0',
      'payload-1',
      'payload-0',
      'payload-1',
      'payload-2',
    ]);
    const last = got[5]!;
    expect(last.type).toBe(513);
    expect(last.payload.toString()).toBe('full');
    expect(last.meta?.toString()).toBe('m');
    expect([last.tenantId, last.vshardId, last.databaseId]).toEqual([9n, 3, 2n ** 63n]);
    expect(reader.stopReason).toEqual({ kind: 'eof', offset: seg.end, reason: 'end of data' });
    expect(reader.offset).toBe(seg.end);
    expect(reader.length).toBe(seg.end);
    expect(reader.isEmpty).toBe(false);
    expect(reader.lastLsn).toBe(15n);
    expect(reader.nextRecord()).toBeNull();
  });

  it('reads across runs of frames: records and batches, kept records whole, offset and lastLsn at each step', () => {
    // More frames than one native run verifies (RUN_FRAMES), with a batch inside each run.
    const frames: FrameSpec[] = [];
    for (let i = 0; i < 3 * RUN_FRAMES; i++)
      frames.push(i % 1500 === 700 ? { batch: records(3) } : { payload: Buffer.from(`r${i}`) });
    const seg = segment(frames);
    const reader = open(seg.path);
    const frameStarts = new Set(seg.frameOffsets);
    const kept = [];
    let offsets = 0;
    for (let r = reader.nextRecord(); r !== null; r = reader.nextRecord()) {
      expect(reader.lastLsn).toBe(r.lsn);
      if (frameStarts.has(reader.offset)) offsets++;
      kept.push(r);
    }
    expect(kept.map((r) => r.lsn)).toEqual(kept.map((_, i) => BigInt(i + 1)));
    const batches = frames.filter((f) => 'batch' in f).length;
    expect(kept.length).toBe(frames.length + 2 * batches);
    expect(kept.at(-1)!.payload.toString()).toBe(`r${3 * RUN_FRAMES - 1}`);
    expect(kept[700]!.payload.toString()).toBe('payload-0');
    // After each record of a frame the offset is that frame's end (the next frame's start).
    expect(offsets).toBe(kept.length - 1);
    expect(reader.offset).toBe(seg.end);
  });

  it('reads a zero-filled (preallocated) tail as a clean end', () => {
    const seg = segment(records(3), Buffer.alloc(10_000));
    const reader = open(seg.path);
    expect(lsnsOf(reader)).toEqual([1n, 2n, 3n]);
    expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: seg.end });
    expect(reader.length).toBe(seg.end + 10_000);
  });

  it('treats a zero-length file as empty, with no header', () => {
    const reader = open(writeFile(Buffer.alloc(0)));
    expect(reader.isEmpty).toBe(true);
    expect(reader.header).toBeNull();
    expect(reader.length).toBe(0);
    expect(reader.nextRecord()).toBeNull();
    expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: 0 });
  });

  it('treats a header-only segment as empty', () => {
    const seg = segment([]);
    const reader = open(seg.path);
    expect(reader.isEmpty).toBe(true);
    expect(reader.header?.firstLsn).toBe(1n);
    expect(reader.nextRecord()).toBeNull();
    expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: 64 });
  });

  describe('stops at the first damage, at its offset, with the right kind', () => {
    const frames = records(5);

    /** Builds 5 records, damages the bytes, returns what a reader makes of them. */
    function damaged(damage: (bytes: Buffer, offsets: number[], end: number) => Buffer) {
      const built = buildSegment({ firstLsn: 1n, frames });
      const reader = open(writeFile(damage(built.bytes, built.frameOffsets, built.end)));
      return { reader, lsns: lsnsOf(reader), offsets: built.frameOffsets, end: built.end };
    }

    it('a last frame cut short is torn', () => {
      const r = damaged((b, o) => b.subarray(0, o[4]! + 12));
      expect(r.lsns).toEqual([1n, 2n, 3n, 4n]);
      expect(r.reader.stopReason).toEqual({
        kind: 'torn',
        offset: r.offsets[4],
        reason: 'a frame length running past the end of the file, and no valid frame follows',
      });
    });

    it('a last frame with a bad CRC is torn', () => {
      const r = damaged((b, o) => {
        b[o[4]! + 15]! ^= 0xff;
        return b;
      });
      expect(r.lsns).toEqual([1n, 2n, 3n, 4n]);
      expect(r.reader.stopReason).toMatchObject({ kind: 'torn', offset: r.offsets[4] });
      expect(r.reader.stopReason?.reason).toMatch(/CRC32C mismatch/);
    });

    it('a frame header cut short at the end is torn', () => {
      const r = damaged((b, _o, end) =>
        Buffer.concat([b.subarray(0, end), Buffer.from([1, 2, 3])]),
      );
      expect(r.lsns).toHaveLength(5);
      expect(r.reader.stopReason).toEqual({
        kind: 'torn',
        offset: r.end,
        reason: 'fewer bytes left than a frame header, and no valid frame follows',
      });
    });

    it('a zero header followed by garbage (no valid frame) is torn', () => {
      const tail = Buffer.concat([Buffer.alloc(8), Buffer.from('garbage!')]);
      const r = damaged((b) => Buffer.concat([b, tail]));
      expect(r.lsns).toHaveLength(5);
      expect(r.reader.stopReason).toEqual({
        kind: 'torn',
        offset: r.end,
        reason: 'a zero frame header, and no valid frame follows',
      });
    });

    it('a damaged byte in a middle frame, with valid frames after it, is corrupt', () => {
      const r = damaged((b, o) => {
        b[o[2]! + 20]! ^= 0x01;
        return b;
      });
      expect(r.lsns).toEqual([1n, 2n]);
      expect(r.reader.stopReason).toEqual({
        kind: 'corrupt',
        offset: r.offsets[2],
        reason: 'a frame CRC32C mismatch, but valid frames follow',
      });
      expect(r.reader.offset).toBe(r.offsets[2]);
    });

    it('a damaged length in a middle frame is corrupt', () => {
      const r = damaged((b, o) => {
        b.writeUInt32LE(0xffff, o[1]! + 4);
        return b;
      });
      expect(r.lsns).toEqual([1n]);
      expect(r.reader.stopReason).toEqual({
        kind: 'corrupt',
        offset: r.offsets[1],
        reason: 'a frame length running past the end of the file, but valid frames follow',
      });
    });

    it('zeroed frames followed by valid ones are corrupt', () => {
      const r = damaged((b, o) => {
        b.fill(0, o[1], o[3]);
        return b;
      });
      expect(r.lsns).toEqual([1n]);
      expect(r.reader.stopReason).toEqual({
        kind: 'corrupt',
        offset: r.offsets[1],
        reason: 'a zero frame header, but valid frames follow',
      });
    });

    it('a frame longer than maxFrameBody is damage', () => {
      const built = buildSegment({
        firstLsn: 1n,
        frames: [...records(2), { payload: Buffer.alloc(500) }],
      });
      const reader = open(writeFile(built.bytes), { maxFrameBody: 100 });
      expect(lsnsOf(reader)).toEqual([1n, 2n]);
      expect(reader.stopReason).toEqual({
        kind: 'torn',
        offset: built.frameOffsets[2],
        reason: 'a frame length of 0 or over the limit, and no valid frame follows',
      });
    });
  });

  describe('frames whose CRC matches but whose content is invalid are corrupt', () => {
    function withFrame(frame: Buffer, at: 'middle' | 'end' = 'middle') {
      const built = buildSegment({ firstLsn: 1n, frames: records(2) });
      const rest = buildSegment({ firstLsn: 3n, frames: records(1) }).bytes.subarray(64);
      const bytes = Buffer.concat([built.bytes, frame, ...(at === 'middle' ? [rest] : [])]);
      const reader = open(writeFile(bytes));
      return { reader, lsns: lsnsOf(reader), offset: built.end };
    }

    function frameOf(body: Buffer): Buffer {
      const frame = Buffer.alloc(8 + body.length);
      encodeFrame(frame, 0, body);
      return frame;
    }

    it('an unknown body kind', () => {
      const r = withFrame(frameOf(Buffer.from([0x09, 1, 2, 3])));
      expect(r.lsns).toEqual([1n, 2n]);
      expect(r.reader.stopReason).toMatchObject({ kind: 'corrupt', offset: r.offset });
    });

    it('a malformed record body (LSN 0)', () => {
      const body = Buffer.alloc(14);
      body[0] = BodyKind.RECORD;
      const r = withFrame(frameOf(body), 'end');
      expect(r.reader.stopReason).toMatchObject({ kind: 'corrupt', offset: r.offset });
    });

    it('a per-core entry in a segment', () => {
      const entry = {
        op: 'epochBarrier' as const,
        coreId: 1,
        epoch: 1n,
        sequence: 1n,
        timestampNs: 1n,
      };
      const frame = Buffer.alloc(200);
      const size = encodeCoreEntryFrame(frame, 0, entry);
      const r = withFrame(frame.subarray(0, size));
      expect(r.reader.stopReason).toMatchObject({ kind: 'corrupt', offset: r.offset });
      expect(r.reader.stopReason?.reason).toMatch(/kind 3/);
    });

    it('an LSN that skips ahead', () => {
      const built = buildSegment({ firstLsn: 1n, frames: records(2) });
      const skipped = buildSegment({ firstLsn: 4n, frames: records(1) }).bytes.subarray(64);
      const reader = open(writeFile(Buffer.concat([built.bytes, skipped])));
      expect(lsnsOf(reader)).toEqual([1n, 2n]);
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: built.end });
      expect(reader.stopReason?.reason).toMatch(/LSN 4 where 3 was expected/);
    });

    it("a first record whose LSN is not the header's first LSN", () => {
      const header = encodeFileHeader({
        firstLsn: 5n,
        salt: randomBytes(16),
        cipher: 'none',
        fileKind: 'segment',
        keyId: 0,
      });
      const frames = buildSegment({ firstLsn: 6n, frames: records(1) }).bytes.subarray(64);
      const reader = open(writeFile(Buffer.concat([header, frames])));
      expect(reader.nextRecord()).toBeNull();
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: 64 });
    });
  });

  it('refuses a damaged file header with WAL_CORRUPT', () => {
    const seg = buildSegment({ firstLsn: 1n, frames: records(1) });
    seg.bytes[20]! ^= 1;
    expectWalError(() => open(writeFile(seg.bytes)), WalErrorCode.CORRUPT);
    expectWalError(() => open(writeFile(Buffer.from('WLNT'))), WalErrorCode.CORRUPT);
  });

  it('refuses a per-core file', () => {
    const header = encodeFileHeader({
      firstLsn: 0n,
      salt: randomBytes(16),
      cipher: 'none',
      fileKind: 'core',
      keyId: 0,
    });
    expectWalError(() => open(writeFile(header)), WalErrorCode.BAD_ARGUMENT);
  });

  it('reports a missing file as WAL_IO with errno', () => {
    expect(expectWalError(() => open(join(dir, 'nope.wal')), WalErrorCode.IO)).toMatchObject({
      details: expect.objectContaining({ errno: Errno.ENOENT }),
    });
  });

  it('refuses a directory with WAL_BAD_ARGUMENT saying to pass a segment file', () => {
    expect(expectWalError(() => open(dir), WalErrorCode.BAD_ARGUMENT)).toMatchObject({
      message: expect.stringMatching(/is a directory: .* reads one segment file/),
    });
  });

  describe('encrypted segments', () => {
    it('decrypts records with the key ring (plaintext is a copy)', () => {
      const built = buildSegment({
        firstLsn: 1n,
        frames: [...records(2), { batch: records(2) }],
        keyRing: ring,
      });
      const reader = open(writeFile(built.bytes), { keyRing: ring });
      const got = [...reader.records()];
      expect(got.map((r) => [r.lsn, r.payload.toString()])).toEqual([
        [1n, 'payload-0'],
        [2n, 'payload-1'],
        [3n, 'payload-0'],
        [4n, 'payload-1'],
      ]);
      expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: built.end });
      expect(reader.describe()).toMatchObject({ encrypted: true, zeroCopy: false });
    });

    it('needs the key ring: WAL_KEY_MISSING without it or without the key', () => {
      const built = buildSegment({ firstLsn: 1n, frames: records(1), keyRing: ring });
      const path = writeFile(built.bytes);
      expectWalError(() => open(path), WalErrorCode.KEY_MISSING);
      const other = new KeyRing({ 8: randomBytes(32) }, 8);
      expectWalError(() => open(path, { keyRing: other }), WalErrorCode.KEY_MISSING);
    });

    it('throws WAL_DECRYPT_FAILED for a wrong key, naming segment and offset', () => {
      const built = buildSegment({ firstLsn: 1n, frames: records(1), keyRing: ring });
      const path = writeFile(built.bytes);
      const wrong = new KeyRing({ 7: randomBytes(32) }, 7);
      const reader = open(path, { keyRing: wrong });
      expect(expectWalError(() => reader.nextRecord(), WalErrorCode.DECRYPT_FAILED)).toMatchObject({
        details: expect.objectContaining({ segment: path, offset: 64 }),
      });
    });

    it('stops as corrupt at a plaintext record frame inside an encrypted segment', () => {
      const built = buildSegment({ firstLsn: 1n, frames: records(1), keyRing: ring });
      const plain = buildSegment({ firstLsn: 2n, frames: records(1) }).bytes.subarray(64);
      const reader = open(writeFile(Buffer.concat([built.bytes, plain])), { keyRing: ring });
      expect(lsnsOf(reader)).toEqual([1n]);
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: built.end });
    });
  });

  describe('with end (a segment still being written)', () => {
    const junk = () => Buffer.alloc(3 * 4096 + 100, 0xa5);

    it('reads the records before end and stops there with eof, whatever lies after it', () => {
      const seg = segment(records(5), junk());
      const end = seg.frameOffsets[3]!;
      const reader = MmapWalReader.open(seg.path, { mode, end });
      expect(lsnsOf(reader)).toEqual([1n, 2n, 3n]);
      expect(reader.stopReason).toEqual({ kind: 'eof', offset: end, reason: 'end of data' });
      expect(reader.length).toBe(end);
    });

    it('reads a file shorter than end to its end', () => {
      const seg = segment(records(3));
      const reader = MmapWalReader.open(seg.path, { mode, end: seg.end + 1_000_000 });
      expect(lsnsOf(reader)).toEqual([1n, 2n, 3n]);
      expect(reader.length).toBe(seg.end);
    });

    it('never touches the bytes past end: the file may be cut back to end while it reads', () => {
      // The cut removes whole pages that frames past `end` span: touching them would kill
      // the process (SIGBUS) in mmap mode, and read as a torn frame in read mode.
      const seg = segment(records(2_000));
      const end = seg.frameOffsets[1_000]!;
      const reader = MmapWalReader.open(seg.path, { mode, end });
      truncateSync(seg.path, Math.ceil(end / 4096) * 4096);
      expect(lsnsOf(reader)).toHaveLength(1_000);
      expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: end });
    });

    it('judges damage before end from the bytes before end only', () => {
      const seg = segment(records(4), junk());
      const bytes = Buffer.from(seg.bytes);
      bytes[seg.frameOffsets[1]! + 12]! ^= 0xff;
      writeFileSync(seg.path, bytes);
      const reader = MmapWalReader.open(seg.path, { mode, end: seg.end });
      truncateSync(seg.path, seg.end);
      expect(lsnsOf(reader)).toEqual([1n]);
      expect(reader.stopReason).toMatchObject({ kind: 'corrupt', offset: seg.frameOffsets[1] });
    });

    it('refuses an end that is not a non-negative integer', () => {
      const path = segment(records(1)).path;
      for (const end of [-1, 1.5, Number.NaN, '64' as unknown as number]) {
        expectWalError(() => MmapWalReader.open(path, { mode, end }), WalErrorCode.BAD_ARGUMENT);
      }
    });
  });

  describe('drain (the loop replay uses)', () => {
    it('hands out every record across runs, a batch and damage, then stops where nextRecord stops', () => {
      const frames: FrameSpec[] = [];
      for (let i = 0; i < 2 * RUN_FRAMES; i++)
        frames.push(
          i === RUN_FRAMES - 1 ? { batch: records(3) } : { payload: Buffer.from(`r${i}`) },
        );
      const seg = segment(frames, Buffer.from('not a frame, and not zeros'));
      const reader = open(seg.path);
      const lsns: bigint[] = [];
      expect(reader.drain((r) => lsns.push(r.lsn))).toBeUndefined();
      expect(lsns).toEqual(lsns.map((_, i) => BigInt(i + 1)));
      expect(lsns.length).toBe(2 * RUN_FRAMES + 2);
      expect(reader.lastLsn).toBe(BigInt(lsns.length));
      expect(reader.stopReason).toMatchObject({ kind: 'torn', offset: seg.end });
    });

    it('returns the promise fn returns, and goes on from the next record when called again', async () => {
      const seg = segment(records(5));
      const reader = open(seg.path);
      const lsns: bigint[] = [];
      const gate = Promise.resolve('waited');
      const fn = (r: { lsn: bigint }) => {
        lsns.push(r.lsn);
        return r.lsn === 2n ? gate : undefined;
      };
      const pending = reader.drain(fn);
      expect(pending).toBe(gate);
      expect(lsns).toEqual([1n, 2n]);
      expect(reader.stopReason).toBeNull();
      await pending;
      expect(reader.drain(fn)).toBeUndefined();
      expect(lsns).toEqual([1n, 2n, 3n, 4n, 5n]);
    });

    it('counts a record fn threw on as handed out, and throws WAL_CLOSED once closed', () => {
      const seg = segment(records(5));
      const reader = open(seg.path);
      expect(() =>
        reader.drain((r) => {
          if (r.lsn === 3n) throw new Error('caller failed');
        }),
      ).toThrow('caller failed');
      expect(reader.lastLsn).toBe(3n);
      expect(reader.nextRecord()?.lsn).toBe(4n);
      reader.close();
      expectWalError(() => reader.drain(() => undefined), WalErrorCode.CLOSED);
    });
  });

  it('using closes the reader when the scope ends', () => {
    const seg = segment(records(2));
    let kept: MmapWalReader;
    {
      using reader = open(seg.path);
      kept = reader;
      expect(reader.nextRecord()?.lsn).toBe(1n);
    }
    expectWalError(() => kept.nextRecord(), WalErrorCode.CLOSED);
  });

  it('closes: later reads throw WAL_CLOSED, records already read stay valid', () => {
    const seg = segment(records(3));
    const reader = open(seg.path);
    const first = reader.nextRecord()!;
    reader.close();
    expectWalError(() => reader.nextRecord(), WalErrorCode.CLOSED);
    expect(first.payload.toString()).toBe('payload-0');
  });
});

describe('mmap mode specifics', () => {
  it('hands out payloads as views into one mapping (zero copy)', () => {
    const seg = segment(records(3));
    const reader = MmapWalReader.open(seg.path, { mode: 'mmap' });
    const [a, b] = [reader.nextRecord()!, reader.nextRecord()!];
    expect(a.payload.buffer).toBe(b.payload.buffer);
    expect(a.payload.byteOffset).toBe(seg.frameOffsets[0]! + 20);
    expect(b.payload.byteOffset).toBe(seg.frameOffsets[1]! + 20);
    expect(reader.describe()).toMatchObject({ mode: 'mmap', zeroCopy: true });
  });

  it('applies MADV_SEQUENTIAL on open and DONTNEED on releasePages; views stay readable', () => {
    const seg = segment(records(3));
    const reader = MmapWalReader.open(seg.path, { mode: 'mmap' });
    expect(reader.madviseState).toBe('sequential');
    const all = [...reader.records()];
    expect(reader.releasePages()).toBe(true);
    expect(reader.madviseState).toBe('dontneed');
    expect(all.map((r) => r.payload.toString())).toEqual(['payload-0', 'payload-1', 'payload-2']);
  });

  it('has no madvise state in read mode', () => {
    const reader = MmapWalReader.open(segment(records(1)).path, { mode: 'read' });
    expect(reader.madviseState).toBeNull();
    expect(reader.releasePages()).toBe(false);
  });

  it('a frame size that is exact: recordFrameSize matches the offsets', () => {
    const seg = segment(records(2));
    expect(seg.frameOffsets[1]! - seg.frameOffsets[0]!).toBe(recordFrameSize(records(1)[0]!));
  });
});

describe('mode selection', () => {
  const saved = process.env.WALNUT_MMAP_READER_NATIVE;
  afterEach(() => {
    if (saved === undefined) delete process.env.WALNUT_MMAP_READER_NATIVE;
    else process.env.WALNUT_MMAP_READER_NATIVE = saved;
  });

  it('maps by default when the addon loaded', () => {
    delete process.env.WALNUT_MMAP_READER_NATIVE;
    const reader = MmapWalReader.open(segment(records(1)).path);
    expect(reader.mode).toBe('mmap');
  });

  it('WALNUT_MMAP_READER_NATIVE=off switches auto readers to read mode and says why', () => {
    process.env.WALNUT_MMAP_READER_NATIVE = 'off';
    const reader = MmapWalReader.open(segment(records(1)).path);
    expect(reader.mode).toBe('read');
    expect(reader.describe().modeReason).toMatch(/WALNUT_MMAP_READER_NATIVE=off/);
    expectWalError(
      () => MmapWalReader.open(segment(records(1)).path, { mode: 'mmap' }),
      WalErrorCode.BACKEND_UNAVAILABLE,
    );
  });

  it('reads a portable file, which its writer cuts in place, unless mapping is asked for', () => {
    delete process.env.WALNUT_MMAP_READER_NATIVE;
    const built = buildSegment({ firstLsn: 1n, frames: records(4) });
    const header = encodeFileHeader({
      firstLsn: 1n,
      salt: randomBytes(16),
      cipher: 'none',
      fileKind: 'portable',
      keyId: 0,
    });
    const path = writeFile(Buffer.concat([header, built.bytes.subarray(header.length)]));
    const reader = MmapWalReader.open(path);
    expect(reader.mode).toBe('read');
    expect(reader.describe().modeReason).toContain(
      'a portable file, which its writer cuts in place',
    );
    // The writer's truncateAfter(2n) after the open: read() ends there, where touching the
    // cut pages of a mapping would raise SIGBUS.
    truncateSync(path, built.frameOffsets[2]!);
    expect(lsnsOf(reader)).toEqual([1n, 2n]);
    expect(reader.stopReason?.kind).toBe('eof');
    expect(MmapWalReader.open(path, { mode: 'mmap' }).mode).toBe('mmap');
  });

  it('rejects an unknown mode', () => {
    expectWalError(
      () => MmapWalReader.open(segment(records(1)).path, { mode: 'fast' as 'mmap' }),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});

it('a file truncated to a size that is not a frame boundary reads as torn in both modes', () => {
  const seg = segment(records(4));
  truncateSync(seg.path, seg.end - 5);
  for (const mode of ['mmap', 'read'] as const) {
    const reader = MmapWalReader.open(seg.path, { mode });
    expect(lsnsOf(reader)).toEqual([1n, 2n, 3n]);
    expect(reader.stopReason).toMatchObject({ kind: 'torn', offset: seg.frameOffsets[3] });
  }
});
