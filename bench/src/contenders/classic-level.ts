/**
 * classic-level (LevelDB). Durable writes pass `sync: true`, which makes LevelDB fdatasync its
 * log; concurrent durable puts are merged by LevelDB's own writer queue. Buffered workloads
 * write batches of 1,000 and pass `sync: true` on the last one.
 */
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { importOrReason, installedVersion } from './versions.js';

const BATCH_RECORDS = 1000;

interface PutOp {
  readonly type: 'put';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}
interface ValueIterator {
  nextv(size: number): Promise<Uint8Array[]>;
  close(): Promise<void>;
}
interface Level {
  open(): Promise<void>;
  close(): Promise<void>;
  put(key: Uint8Array, value: Uint8Array, options: { sync: boolean }): Promise<void>;
  batch(ops: PutOp[], options: { sync: boolean }): Promise<void>;
  values(options?: Record<string, unknown>): ValueIterator;
}
type LevelConstructor = new (location: string, options: Record<string, unknown>) => Level;

/** Big-endian sequence numbers sort in write order. */
function sequenceKey(sequence: number): Uint8Array {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(BigInt(sequence));
  return key;
}

class LevelWriter implements LogWriter {
  private sequence = 0;
  private batch: PutOp[] = [];

  constructor(private readonly db: Level) {}

  append(payload: Uint8Array): undefined | Promise<void> {
    // A full batch is written when the next record arrives, so that sync() always has a
    // non-empty batch to write with `sync: true`.
    let written: Promise<void> | undefined;
    if (this.batch.length === BATCH_RECORDS) {
      written = this.db.batch(this.batch, { sync: false });
      this.batch = [];
    }
    this.batch.push({ type: 'put', key: sequenceKey(this.sequence++), value: payload });
    return written;
  }

  async sync(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) await this.db.batch(batch, { sync: true });
  }

  appendDurable(payload: Uint8Array): Promise<void> {
    return this.db.put(sequenceKey(this.sequence++), payload, { sync: true });
  }

  syncsCompleted(): null {
    return null;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export const classicLevel: ContenderPlugin = {
  id: 'classic-level',
  label: 'classic-level',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  async load() {
    const loaded = await importOrReason<{ ClassicLevel: LevelConstructor }>('classic-level');
    if ('reason' in loaded) throw new NotAvailable(loaded.reason);
    const { ClassicLevel } = loaded.module;
    const openLevel = async (dir: string): Promise<Level> => {
      const db = new ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      return db;
    };
    return {
      versions: { 'classic-level': installedVersion('classic-level') },
      notes: ['sync: true for durable writes; batches of 1,000 when buffered'],
      async openWriter(dir) {
        return new LevelWriter(await openLevel(dir));
      },
      async replay(dir, visit) {
        const db = await openLevel(dir);
        try {
          const values = db.values();
          for (;;) {
            const chunk = await values.nextv(BATCH_RECORDS);
            if (chunk.length === 0) break;
            for (const value of chunk) visit(value);
          }
          await values.close();
        } finally {
          await db.close();
        }
        // classic-level does not expose LevelDB's verify_checksums read option (default off).
        return { checksumsVerified: false };
      },
    };
  },
};
