import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Wal } from '@walnut/wal';

/** One change, as it is written to the log. */
type Change = { op: 'set'; key: string; value: string } | { op: 'delete'; key: string };

interface SnapshotFile {
  readonly version: 1;
  /** Every change with an LSN up to this one is in `entries`. */
  readonly lsn: string;
  readonly entries: [string, string][];
}

export interface KvStoreOptions {
  /** Take a snapshot (and truncate the log below it) after this many changes. Default 10 000. */
  readonly snapshotEvery?: number;
  /** Log segment size; smaller segments let truncation reclaim space sooner. Default 1 MiB. */
  readonly segmentSize?: number;
  /** Called after each snapshot is durable and the log below it truncated. */
  readonly onSnapshot?: (lsn: bigint, segmentsDeleted: number) => void;
}

export interface KvStoreStats {
  readonly keys: number;
  /** The last change applied to the in-memory state. */
  readonly appliedLsn: bigint;
  /** The LSN the newest snapshot covers (0 when there is none). */
  readonly snapshotLsn: bigint;
  /** The lowest LSN the log still holds. */
  readonly floorLsn: bigint;
  /** Changes replayed from the log when the store opened (those after the snapshot). */
  readonly replayedOnOpen: number;
  /** Snapshots taken since this store was opened. */
  readonly snapshotsTaken: number;
}

/**
 * A durable key-value store: every change is appended to a Walnut log and acknowledged
 * only once the log says it is durable; the in-memory map is rebuilt on open from the
 * newest snapshot plus a replay of the log after it. Snapshots are written atomically
 * (temp file, fsync, rename, directory fsync) and then `truncateBefore` drops the log
 * segments they cover, so the log stays short.
 */
export class KvStore {
  private readonly map = new Map<string, string>();
  private appliedLsn = 0n;
  private snapshotLsn = 0n;
  private replayedOnOpen = 0;
  private snapshots = 0;
  private changesSinceSnapshot = 0;
  private snapshotRunning: Promise<unknown> | null = null;
  private snapshotError: unknown = null;

  private constructor(
    private readonly dir: string,
    private readonly wal: Wal,
    private readonly snapshotEvery: number,
    private readonly onSnapshot: KvStoreOptions['onSnapshot'],
  ) {}

  static async open(dir: string, options: KvStoreOptions = {}): Promise<KvStore> {
    const wal = await Wal.open(join(dir, 'log'))
      .segmentSize(options.segmentSize ?? 1024 * 1024)
      .build();
    const store = new KvStore(dir, wal, options.snapshotEvery ?? 10_000, options.onSnapshot);
    try {
      await store.recover();
    } catch (error) {
      await wal.close();
      throw error;
    }
    return store;
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  /** Resolves with the change's LSN once it is durable; only then is it visible to `get`. */
  set(key: string, value: string): Promise<bigint> {
    return this.change({ op: 'set', key, value });
  }

  delete(key: string): Promise<bigint> {
    return this.change({ op: 'delete', key });
  }

  /** Writes a snapshot of everything applied so far and truncates the log below it. */
  async snapshot(): Promise<{ lsn: bigint; segmentsDeleted: number }> {
    while (this.snapshotRunning) await this.snapshotRunning;
    const running = this.writeSnapshot();
    this.snapshotRunning = running;
    try {
      return await running;
    } finally {
      this.snapshotRunning = null;
    }
  }

  stats(): KvStoreStats {
    return {
      keys: this.map.size,
      appliedLsn: this.appliedLsn,
      snapshotLsn: this.snapshotLsn,
      floorLsn: this.wal.floorLsn,
      replayedOnOpen: this.replayedOnOpen,
      snapshotsTaken: this.snapshots,
    };
  }

  /** Waits for a running snapshot, then shuts the log down cleanly (final fsync). */
  async close(): Promise<void> {
    if (this.snapshotRunning) await this.snapshotRunning.catch(() => undefined);
    await this.wal.shutdown(10_000);
    if (this.snapshotError) throw this.snapshotError;
  }

  private async change(change: Change): Promise<bigint> {
    if (this.snapshotError) throw this.snapshotError;
    // The Wal assigns LSNs in call order and acknowledges in LSN order, so changes are
    // applied in log order — the same order a replay will apply them.
    const lsn = await this.wal.append(Buffer.from(JSON.stringify(change)));
    this.apply(change, lsn);
    if (++this.changesSinceSnapshot >= this.snapshotEvery && !this.snapshotRunning) {
      this.changesSinceSnapshot = 0;
      this.snapshot().catch((error) => {
        this.snapshotError = error;
      });
    }
    return lsn;
  }

  private apply(change: Change, lsn: bigint): void {
    if (lsn <= this.appliedLsn) {
      throw new Error(`change at LSN ${lsn} arrived after LSN ${this.appliedLsn}`);
    }
    if (change.op === 'set') this.map.set(change.key, change.value);
    else this.map.delete(change.key);
    this.appliedLsn = lsn;
  }

  private async recover(): Promise<void> {
    const snapshot = await this.readSnapshot();
    if (snapshot) {
      for (const [k, v] of snapshot.entries) this.map.set(k, v);
      this.snapshotLsn = BigInt(snapshot.lsn);
      this.appliedLsn = this.snapshotLsn;
    }
    const from = this.snapshotLsn + 1n;
    if (from < this.wal.floorLsn) {
      throw new Error(
        `the log starts at LSN ${this.wal.floorLsn} but the snapshot covers only up to ${this.snapshotLsn}: changes are missing`,
      );
    }
    // The log may end before `from` when a snapshot covered everything.
    if (this.wal.lastLsn >= from) {
      await this.wal.replay(from, (record) => {
        this.apply(JSON.parse(record.payload.toString('utf8')) as Change, record.lsn);
        this.replayedOnOpen++;
      });
    }
  }

  private async writeSnapshot(): Promise<{ lsn: bigint; segmentsDeleted: number }> {
    const lsn = this.appliedLsn;
    const body: SnapshotFile = { version: 1, lsn: lsn.toString(), entries: [...this.map] };
    const path = join(this.dir, 'snapshot.json');
    const tmp = `${path}.tmp`;
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(JSON.stringify(body));
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.snapshotLsn = lsn;
    this.snapshots++;
    // Only now that the snapshot is durable may the log forget what it covers.
    const { segmentsDeleted } = await this.wal.truncateBefore(lsn + 1n);
    this.onSnapshot?.(lsn, segmentsDeleted);
    return { lsn, segmentsDeleted };
  }

  private async readSnapshot(): Promise<SnapshotFile | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'snapshot.json'), 'utf8')) as SnapshotFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }
}
