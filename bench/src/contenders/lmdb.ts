/**
 * lmdb (lmdb-js) with its defaults: puts are batched into transactions by lmdb itself, and
 * `await db.flushed` waits until the last committed transaction is on disk.
 */
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { importOrReason, installedVersion } from './versions.js';

interface RangeEntry {
  readonly value: Uint8Array;
}
interface LmdbDatabase {
  put(key: number, value: Uint8Array): Promise<boolean>;
  readonly flushed: Promise<void>;
  getRange(options?: Record<string, unknown>): Iterable<RangeEntry>;
  close(): Promise<void>;
}
type Open = (options: Record<string, unknown>) => LmdbDatabase;

function openLmdb(open: Open, dir: string): LmdbDatabase {
  return open({ path: dir, keyEncoding: 'uint32', encoding: 'binary', compression: false });
}

class LmdbWriter implements LogWriter {
  private sequence = 0;

  constructor(private readonly db: LmdbDatabase) {}

  append(payload: Uint8Array): undefined {
    // Not awaited: lmdb gathers the puts of a turn of the event loop into one transaction.
    void this.db.put(this.sequence++, payload);
    return undefined;
  }

  async sync(): Promise<void> {
    await this.db.flushed;
  }

  async appendDurable(payload: Uint8Array): Promise<void> {
    await this.db.put(this.sequence++, payload);
    await this.db.flushed;
  }

  syncsCompleted(): null {
    return null;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export const lmdb: ContenderPlugin = {
  id: 'lmdb',
  label: 'lmdb',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  async load() {
    const loaded = await importOrReason<{ open: Open }>('lmdb');
    if ('reason' in loaded) throw new NotAvailable(loaded.reason);
    const { open } = loaded.module;
    return {
      versions: { lmdb: installedVersion('lmdb') },
      notes: ['defaults (overlappingSync); await db.flushed for durability'],
      async openWriter(dir) {
        return new LmdbWriter(openLmdb(open, dir));
      },
      async replay(dir, visit) {
        const db = openLmdb(open, dir);
        try {
          for (const { value } of db.getRange({})) visit(value);
        } finally {
          await db.close();
        }
        return { checksumsVerified: false };
      },
    };
  },
};
