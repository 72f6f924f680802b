import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The bit nats-server sets in a record's length when the message has headers. */
const HEADERS_BIT = 1 << 31;
/** The bit of a sequence number that marks an erased or deleted message. */
const ERASED_BIT = 1n << 63n;
/** Length, sequence, timestamp and subject length before the subject. */
const RECORD_HEAD = 22;
/** The hash after each record's message. */
const RECORD_HASH = 8;

/**
 * One server's own copy of a stream, read from its file store on disk (nats-server 2.9's
 * message blocks, `<store>/jetstream/$G/streams/<stream>/msgs/<n>.blk`): sequence →
 * message body. Reading the files (the page cache, for a running server) is how a test
 * sees what each replica holds, where every request would be answered by the leader.
 * A record cut short at the end of a block (being written) ends that block's reading.
 */
export function readStreamCopy(storeDir: string, stream: string): Map<number, Buffer> {
  const dir = join(storeDir, 'jetstream', '$G', 'streams', stream, 'msgs');
  const out = new Map<number, Buffer>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /^\d+\.blk$/.test(f));
  } catch {
    return out;
  }
  files.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  for (const file of files) {
    const buf = readFileSync(join(dir, file));
    let at = 0;
    while (at + RECORD_HEAD <= buf.length) {
      const word = buf.readUInt32LE(at);
      const length = word & ~HEADERS_BIT;
      if (length < RECORD_HEAD + RECORD_HASH || at + length > buf.length) break;
      const seq = buf.readBigUInt64LE(at + 4);
      const subjectLength = buf.readUInt16LE(at + 20);
      let body = at + RECORD_HEAD + subjectLength;
      if ((word & HEADERS_BIT) !== 0) body += 4 + buf.readUInt32LE(body);
      const end = at + length - RECORD_HASH;
      if ((seq & ERASED_BIT) === 0n && body <= end) {
        out.set(Number(seq), Buffer.from(buf.subarray(body, end)));
      }
      at += length;
    }
  }
  return out;
}
