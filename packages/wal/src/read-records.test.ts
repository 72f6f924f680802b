import { describe, expect, it } from 'vitest';
import { FakeEngine } from '../test/fake-engine.js';
import type { EngineSegment } from './engine.js';
import { LogCursor, RecordIterator } from './read-records.js';

/** A log whose first segment is behind the active one but not sealed yet (a rollover in progress). */
class RollingEngine extends FakeEngine {
  override readonly activeSegmentFirstLsn = 4n;
  sealed = false;
  override async listSegments(): Promise<readonly EngineSegment[]> {
    return [
      { path: '/fake/1.wal', firstLsn: 1n, lastLsn: 3n, sealed: this.sealed },
      { path: '/fake/4.wal', firstLsn: 4n, lastLsn: 5n, sealed: false },
    ];
  }
}

async function lsnsRead(engine: RollingEngine, mapped: string[]): Promise<bigint[]> {
  const openSealed = (segment: EngineSegment) => {
    mapped.push(segment.path);
    const records = engine.records.filter(
      (r) => r.lsn >= segment.firstLsn && r.lsn <= segment.lastLsn!,
    );
    let at = 0;
    return { next: () => records[at++] ?? null, finish() {}, close() {} };
  };
  const out: bigint[] = [];
  for await (const record of new RecordIterator(new LogCursor(engine, 1n, 5n, openSealed)))
    out.push(record.lsn);
  return out;
}

describe('LogCursor', () => {
  it('maps only segments that are sealed; one still being sealed is read through the engine', async () => {
    const engine = new RollingEngine();
    for (let i = 0; i < 5; i++) engine.append({ payload: Buffer.from(`r${i}`) });
    await engine.flush();
    const mapped: string[] = [];
    expect(await lsnsRead(engine, mapped)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual([]);
    engine.sealed = true;
    expect(await lsnsRead(engine, mapped)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual(['/fake/1.wal']);
  });
});
