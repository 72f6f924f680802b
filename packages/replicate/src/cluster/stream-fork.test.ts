import { describe, expect, it } from 'vitest';
import type { StreamPosition } from './link.js';
import { decodeHeader, encodeRecordsMessage, messageCrc } from './message.js';
import { forkBelowEnd } from './stream-fork.js';

const record = (text: string) => ({ payload: Buffer.from(text) });

/** The stream `messages` (sequence 1 first) and its end as read. */
function streamOf(messages: Buffer[]) {
  const last = messages[messages.length - 1]!;
  const position: StreamPosition = {
    seq: messages.length,
    header: decodeHeader(last, 'last'),
    crc: messageCrc(last),
    id: null,
  };
  return { link: { messageAt: async (seq: number) => messages[seq - 1] ?? null }, position };
}

describe("a fork under the stream's end", () => {
  const first = encodeRecordsMessage(5, 1n, [record('a')]);

  it('is none when the last message names the one stored before it', async () => {
    const next = encodeRecordsMessage(5, 2n, [record('b')], undefined, messageCrc(first));
    const { link, position } = streamOf([first, next]);
    expect(await forkBelowEnd(link, position)).toBeNull();
  });

  it('is found when the message stored before it is another than the one it names', async () => {
    const other = encodeRecordsMessage(3, 1n, [record('another history')]);
    const next = encodeRecordsMessage(5, 2n, [record('b')], undefined, messageCrc(first));
    const { link, position } = streamOf([other, next]);
    expect(await forkBelowEnd(link, position)).toContain(
      "the servers' copies of the stream forked there",
    );
  });

  it('is not told when the last message names none, or nothing is stored before it', async () => {
    const unnamed = encodeRecordsMessage(5, 2n, [record('b')]);
    const named = encodeRecordsMessage(5, 2n, [record('b')], undefined, messageCrc(first));
    const other = encodeRecordsMessage(3, 1n, [record('another history')]);
    const a = streamOf([other, unnamed]);
    expect(await forkBelowEnd(a.link, a.position)).toBeNull();
    const b = streamOf([other, named]);
    const gone = { messageAt: async () => null };
    expect(await forkBelowEnd(gone, b.position)).toBeNull();
  });

  it('is not an older epoch stored after a newer one: that message is stale (decision 0914)', async () => {
    const marker = encodeRecordsMessage(6, 1n, [record('new epoch')]);
    const stale = encodeRecordsMessage(5, 2n, [record('b')], undefined, messageCrc(first));
    const { link, position } = streamOf([marker, stale]);
    expect(await forkBelowEnd(link, position)).toBeNull();
  });
});
