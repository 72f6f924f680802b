import { WalErrorCode } from '@walnut/wal';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../test/temp.js';
import { StreamErrorCode } from './errors.js';
import { formatOffset } from './offsets.js';
import { Streams } from './streams.js';
import type { StreamsOptions } from './streams-options.js';

const b = (s: string) => Buffer.from(s);
const texts = (records: { payload: Buffer }[]) => records.map((r) => r.payload.toString());
const code = (c: string) => expect.objectContaining({ code: c });

async function open(dir = tempDir(), options: StreamsOptions = {}) {
  return Streams.open(dir, { durability: 'flush', ...options });
}

describe('creating a stream', () => {
  it('is idempotent with the same configuration and a conflict with another', async () => {
    const s = await open();
    expect((await s.create('a', { contentType: 'text/plain' })).created).toBe(true);
    expect((await s.create('a', { contentType: 'text/plain' })).created).toBe(false);
    await expect(s.create('a', { contentType: 'application/json' })).rejects.toEqual(
      code(StreamErrorCode.CONFLICT),
    );
    await s.shutdown();
  });

  it('refuses names that are empty, too long or hold control characters', async () => {
    const s = await open();
    for (const name of ['', 'x'.repeat(1025), 'a\nb', '\ud800']) {
      await expect(s.create(name)).rejects.toEqual(code(StreamErrorCode.BAD_NAME));
    }
    await s.create('../../etc/passwd'); // a name is never a path
    expect(s.list()).toEqual(['../../etc/passwd']);
    await s.shutdown();
  });
});

describe('appending', () => {
  it('gives each record the next offset of its stream and resolves with the new tail', async () => {
    const s = await open();
    await s.create('a');
    await s.create('b');
    expect(await s.append('a', b('a0'))).toEqual({ first: 0, tail: 1, duplicate: false });
    expect(await s.append('b', [b('b0'), b('b1')])).toEqual({
      first: 0,
      tail: 2,
      duplicate: false,
    });
    expect(await s.append('a', [b('a1'), b('a2')])).toEqual({
      first: 1,
      tail: 3,
      duplicate: false,
    });
    expect(texts((await s.read('a', 0)).records)).toEqual(['a0', 'a1', 'a2']);
    expect(texts((await s.read('b', formatOffset(1))).records)).toEqual(['b1']);
    await s.shutdown();
  });

  it('to an unknown stream is WAL_STREAM_NOT_FOUND, and writes nothing', async () => {
    const s = await open();
    await expect(s.append('nope', b('x'))).rejects.toEqual(code(StreamErrorCode.NOT_FOUND));
    expect(s.log.lastLsn).toBe(0n);
    await s.shutdown();
  });

  it('larger than maxRecordSize is WAL_STREAM_PAYLOAD_TOO_LARGE', async () => {
    const s = await open(tempDir(), { maxRecordSize: 1024 });
    await s.create('a');
    await expect(s.append('a', Buffer.alloc(1024))).rejects.toEqual(
      code(StreamErrorCode.PAYLOAD_TOO_LARGE),
    );
    expect((await s.append('a', Buffer.alloc(10))).tail).toBe(1);
    await s.shutdown();
  });

  it('with an expected tail is refused with the current tail when it differs', async () => {
    const s = await open();
    await s.create('a');
    await s.append('a', b('x'), { expectedTail: 0 });
    const mismatch = s.append('a', b('y'), { expectedTail: 0 });
    await expect(mismatch).rejects.toEqual(code(StreamErrorCode.OFFSET_MISMATCH));
    await expect(mismatch).rejects.toMatchObject({ details: { tail: 1 } });
    expect((await s.append('a', b('y'), { expectedTail: formatOffset(1) })).tail).toBe(2);
    await s.shutdown();
  });
});

describe('an idempotent producer', () => {
  const p = (epoch: number, seq: number) => ({ producer: { producerId: 'p', epoch, seq } });

  it('gets the original result for a retry, and nothing is written twice', async () => {
    const s = await open();
    await s.create('a');
    const first = await s.append('a', [b('x'), b('y')], p(0, 0));
    const lsn = s.log.lastLsn;
    expect(await s.append('a', [b('x'), b('y')], p(0, 0))).toEqual({ ...first, duplicate: true });
    expect(s.log.lastLsn).toBe(lsn);
    expect((await s.read('a')).records).toHaveLength(2);
    await s.shutdown();
  });

  it('gets the original result for a retry after a reopen, with the highest seq taken', async () => {
    const dir = tempDir();
    const s = await open(dir);
    await s.create('a');
    await s.append('a', b('x'), p(0, 0));
    await s.append('a', b('y'), p(0, 1));
    await s.shutdown();
    const again = await open(dir);
    expect(await again.append('a', b('x'), p(0, 0))).toEqual({
      first: 0,
      tail: 1,
      duplicate: true,
      producerSeq: 1,
    });
    expect(await again.append('a', b('z'), p(0, 2))).toEqual({
      first: 2,
      tail: 3,
      duplicate: false,
      producerSeq: 2,
    });
    await again.shutdown();
  });

  it('is refused a gap, naming the seq expected', async () => {
    const s = await open();
    await s.create('a');
    await expect(s.append('a', b('x'), p(0, 1))).rejects.toMatchObject({
      code: StreamErrorCode.SEQUENCE_GAP,
      details: { expectedSeq: 0 },
    });
    await s.append('a', b('x'), p(0, 0));
    await expect(s.append('a', b('x'), p(0, 2))).rejects.toMatchObject({
      code: StreamErrorCode.SEQUENCE_GAP,
      details: { expectedSeq: 1 },
    });
    await s.shutdown();
  });

  it('with a stale epoch is fenced, naming the current epoch; a new epoch starts at 0', async () => {
    const s = await open();
    await s.create('a');
    await s.append('a', b('x'), p(1, 0));
    await expect(s.append('a', b('y'), p(2, 5))).rejects.toMatchObject({
      code: StreamErrorCode.SEQUENCE_GAP,
      details: { expectedSeq: 0 },
    });
    await s.append('a', b('y'), p(2, 0));
    await expect(s.append('a', b('z'), p(1, 1))).rejects.toMatchObject({
      code: StreamErrorCode.PRODUCER_FENCED,
      details: { currentEpoch: 2 },
    });
    await s.shutdown();
  });

  it('retrying while the original is in flight gets the same offsets', async () => {
    const s = await open();
    await s.create('a');
    const [one, two] = await Promise.all([
      s.append('a', b('x'), p(0, 0)),
      s.append('a', b('x'), p(0, 0)),
    ]);
    expect(two).toEqual({ ...one, duplicate: true });
    expect((await s.read('a')).records).toHaveLength(1);
    await s.shutdown();
  });

  it('retrying a conditional append that succeeded gets its result, not a mismatch', async () => {
    const s = await open();
    await s.create('a');
    const options = { ...p(0, 0), expectedTail: 0 };
    const first = await s.append('a', b('x'), options);
    expect(await s.append('a', b('x'), options)).toEqual({ ...first, duplicate: true });
    await s.shutdown();
  });
});

describe('reading', () => {
  it('is bounded by records and by bytes, always making progress', async () => {
    const s = await open();
    await s.create('a');
    await s.append('a', [b('aaaa'), b('bbbb'), b('cccc')]);
    await s.append('a', [b('dddd')]);
    const two = await s.read('a', 1, { maxRecords: 2 });
    expect(texts(two.records)).toEqual(['bbbb', 'cccc']);
    expect(two.next).toBe(3);
    expect(texts((await s.read('a', 0, { maxBytes: 9 })).records)).toEqual(['aaaa', 'bbbb']);
    expect(texts((await s.read('a', 2, { maxBytes: 1 })).records)).toEqual(['cccc']);
    expect((await s.read('a', 4)).records).toEqual([]);
    await expect(s.read('a', 5)).rejects.toEqual(code(StreamErrorCode.BAD_OFFSET));
    await s.shutdown();
  });

  it("starts at that stream's first record asked for, and reads on with one iterator", async () => {
    const s = await open();
    await s.create('a');
    await s.create('b');
    for (let i = 0; i < 10; i++) {
      await s.append('a', b(`a${i}`));
      await s.append('b', b(`b${i}`));
    }
    const iterator = vi.spyOn(s.log, 'iterator');
    expect(texts((await s.read('a', 7)).records)).toEqual(['a7', 'a8', 'a9']);
    // An iterator per record would scan the segment up to each record again.
    expect(iterator.mock.calls).toEqual([[17n]]);
    await s.shutdown();
  });

  it('moves one iterator on through the sealed segments, which a seek reads from their start', async () => {
    const s = await open(tempDir(), { durability: 'none', segmentSize: 1024 * 1024 });
    await s.create('sparse');
    await s.create('dense');
    const sent: string[] = [];
    // 5,000 appends between two of 'sparse': over the 4,096 a read once read on through.
    for (let i = 0; i < 6; i++) {
      sent.push(`s${i}`);
      await s.append('sparse', b(`s${i}`));
      for (let k = 0; k < 5000; k += 500) {
        await Promise.all(Array.from({ length: 500 }, () => s.append('dense', b('d'))));
      }
    }
    await s.log.flush();
    // Six records of 'sparse' in two or three segments: several share a sealed one.
    const segments = await s.log.segments();
    expect(segments.length).toBeLessThanOrEqual(3);
    expect(segments[0]!.sealed).toBe(true);
    const iterator = vi.spyOn(s.log, 'iterator');
    expect(texts((await s.read('sparse')).records)).toEqual(sent);
    // A seek per record would read a sealed segment from its start once per record in it
    // (seeks in the segment being written start near their record).
    const active = s.log.stats().activeSegmentFirstLsn;
    const sealedSeeks = iterator.mock.calls.filter(([lsn]) => lsn !== undefined && lsn < active);
    expect(sealedSeeks).toEqual([[sealedSeeks[0]![0]]]);
    await s.shutdown();
  });
});

describe('a live tail', () => {
  it('yields new appends as they are acknowledged and ends at a closed stream', async () => {
    const s = await open();
    await s.create('a');
    await s.append('a', b('0'));
    const seen: string[] = [];
    const done = (async () => {
      for await (const r of s.tail('a')) seen.push(`${r.offset}:${r.payload}`);
    })();
    await s.append('a', [b('1'), b('2')]);
    await s.close('a');
    await done;
    expect(seen).toEqual(['0:0', '1:1', '2:2']);
    await expect(s.append('a', b('3'))).rejects.toEqual(code(StreamErrorCode.CLOSED));
    await s.shutdown();
  });

  it('rejects with the signal reason when aborted', async () => {
    const s = await open();
    await s.create('a');
    const controller = new AbortController();
    const tail = s.tail('a', { signal: controller.signal });
    const next = tail.next();
    const reason = new Error('enough');
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    await s.shutdown();
  });

  it('of a stream deleted meanwhile throws WAL_STREAM_NOT_FOUND', async () => {
    const s = await open();
    await s.create('a');
    const refused = expect(s.tail('a').next()).rejects.toEqual(code(StreamErrorCode.NOT_FOUND));
    await s.delete('a');
    await refused;
    await s.shutdown();
  });
});

describe('deleting', () => {
  it('frees the name, which never comes back with its old records, across reopens', async () => {
    const dir = tempDir();
    const s = await open(dir);
    await s.create('a');
    await s.append('a', [b('old1'), b('old2')]);
    expect(await s.delete('a')).toBe(true);
    expect(await s.delete('a')).toBe(false);
    expect(s.list()).toEqual([]);
    expect(s.has('a')).toBe(false);
    await expect(s.read('a')).rejects.toEqual(code(StreamErrorCode.NOT_FOUND));
    await s.create('a');
    await s.append('a', b('new'));
    await s.shutdown();
    const again = await open(dir);
    expect(texts((await again.read('a')).records)).toEqual(['new']);
    expect(again.metadata('a').tail).toBe(1);
    await again.shutdown();
  });
});

describe('expiry', () => {
  it('makes a stream read as absent once its time passes, by the log clock', async () => {
    let now = 1_000_000;
    const dir = tempDir();
    const s = await open(dir, { clock: () => now });
    await s.create('ttl', { ttlMs: 100 });
    await s.create('at', { expiresAt: now + 500 });
    await s.append('ttl', b('x'));
    expect(s.metadata('ttl').expiresAt).toBe(1_000_100);
    now += 100;
    expect(s.list()).toEqual(['at']);
    expect([s.has('ttl'), s.has('at')]).toEqual([false, true]);
    await expect(s.read('ttl')).rejects.toEqual(code(StreamErrorCode.EXPIRED));
    await expect(s.append('ttl', b('y'))).rejects.toEqual(code(StreamErrorCode.EXPIRED));
    expect((await s.create('ttl')).created).toBe(true);
    expect((await s.read('ttl')).records).toEqual([]);
    await s.shutdown();
    now = 0; // a clock that stepped back does not bring an expired stream back
    const again = await open(dir, { clock: () => now });
    expect(again.list()).toEqual(['at', 'ttl']);
    expect(again.metadata('ttl').tail).toBe(0);
    await again.shutdown();
  });
});

describe('metadata and list', () => {
  it('report tail, bytes, closed, content type and metadata', async () => {
    const s = await open();
    await s.create('a', { contentType: 'text/plain', metadata: { owner: 'me' } });
    await s.append('a', [b('abc'), b('de')]);
    await s.close('a');
    expect(s.metadata('a')).toMatchObject({
      name: 'a',
      tail: 2,
      bytes: 5,
      closed: true,
      contentType: 'text/plain',
      metadata: { owner: 'me' },
    });
    await s.shutdown();
  });
});

describe('after shutdown', () => {
  it('appends are WAL_CLOSED', async () => {
    const s = await open();
    await s.create('a');
    await s.shutdown();
    await expect(s.append('a', b('x'))).rejects.toEqual(code(WalErrorCode.CLOSED));
  });
});

describe('a read-only opener beside the writer', () => {
  it('reads, and tails what the writer appends later', async () => {
    const dir = tempDir();
    const writer = await open(dir);
    await writer.create('a');
    await writer.append('a', b('0'));
    const reader = await Streams.open(dir, { readOnly: true });
    expect(texts((await reader.read('a')).records)).toEqual(['0']);
    await expect(reader.append('a', b('x'))).rejects.toEqual(code(WalErrorCode.READ_ONLY));
    const controller = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const r of reader.tail('a', { signal: controller.signal })) {
        seen.push(r.payload.toString());
        if (seen.length === 3) controller.abort();
      }
    })();
    // Judged from the start: the tail may abort before the writer's append resolves.
    const ended = expect(following).rejects.toMatchObject({ name: 'AbortError' });
    await writer.append('a', [b('1'), b('2')]);
    await ended;
    expect(seen).toEqual(['0', '1', '2']);
    await reader.shutdown();
    await writer.shutdown();
  });
});
