/**
 * better-sqlite3 with the WAL journal and synchronous=FULL, so a committed transaction is on
 * disk. Buffered workloads append inside one transaction committed at the end; durable
 * appends use the group commit a Node developer writes around a synchronous driver: what is
 * pending when the event loop comes round is inserted in one transaction.
 */
import { join } from 'node:path';
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { GroupCommit } from '../floor/group-commit.js';
import { importOrReason, installedVersion } from './versions.js';

interface Statement {
  run(...params: unknown[]): unknown;
  iterate(...params: unknown[]): IterableIterator<unknown>;
  pluck(toggle?: boolean): Statement;
}
interface Database {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): Statement;
  close(): void;
}
type DatabaseConstructor = new (filename: string) => Database;

function openDatabase(Database: DatabaseConstructor, dir: string): Database {
  const db = new Database(join(dir, 'log.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  return db;
}

class SqliteWriter implements LogWriter {
  private readonly insert: Statement;
  private inTransaction = false;
  /** The floor's group commit, each round one transaction. */
  private readonly rounds = new GroupCommit((payloads) => {
    this.db.exec('BEGIN');
    for (const payload of payloads) this.insert.run(payload);
    this.db.exec('COMMIT');
  });

  constructor(private readonly db: Database) {
    this.insert = db.prepare('INSERT INTO log (payload) VALUES (?)');
  }

  append(payload: Uint8Array): undefined {
    if (!this.inTransaction) {
      this.db.exec('BEGIN');
      this.inTransaction = true;
    }
    this.insert.run(payload);
    return undefined;
  }

  async sync(): Promise<void> {
    if (this.inTransaction) {
      this.db.exec('COMMIT');
      this.inTransaction = false;
    }
  }

  appendDurable(payload: Uint8Array): Promise<void> {
    return this.rounds.add(payload);
  }

  syncsCompleted(): null {
    return null;
  }

  async close(): Promise<void> {
    await this.sync();
    this.db.close();
  }
}

export const betterSqlite3: ContenderPlugin = {
  id: 'better-sqlite3',
  label: 'better-sqlite3',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  async load() {
    const loaded = await importOrReason<{ default: DatabaseConstructor }>('better-sqlite3');
    if ('reason' in loaded) throw new NotAvailable(loaded.reason);
    const Database = loaded.module.default;
    // Opening a database loads the native addon; an unbuilt addon fails here, not mid-run.
    try {
      new Database(':memory:').close();
    } catch (error) {
      throw new NotAvailable(`better-sqlite3 native addon unusable (${(error as Error).message})`);
    }
    return {
      versions: { 'better-sqlite3': installedVersion('better-sqlite3') },
      notes: ['journal_mode=WAL, synchronous=FULL; one transaction per batch'],
      async openWriter(dir) {
        return new SqliteWriter(openDatabase(Database, dir));
      },
      async replay(dir, visit) {
        const db = openDatabase(Database, dir);
        try {
          const rows = db.prepare('SELECT payload FROM log ORDER BY seq').pluck();
          for (const payload of rows.iterate()) visit(payload as Uint8Array);
        } finally {
          db.close();
        }
        return { checksumsVerified: false };
      },
    };
  },
};
