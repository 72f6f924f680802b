import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { Follower } from '../src/index.js';
import { sleep } from '../src/testing/index.js';
import { readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

describe('a follower facing a history it cannot follow', () => {
  it('stops with WAL_BAD_STATE (behind, not diverged), after a few looks with backoff, when its next LSN is in neither the stream nor the object store', async () => {
    const stream = streamName('gap');
    const primary = await openPrimary(stream, { streamMaxMessages: 50, uploadSegments: false });
    for (let i = 0; i < 200; i++) await primary.append(payloadFor(i));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    const started = Date.now();
    const error = await expectWalError(follower.waitFor(200n, 30_000), 'WAL_BAD_STATE');
    expect(error).toMatchObject({ details: { needFrom: 1n } });
    expect(error.message).toContain('in neither the stream');
    expect(error.message).toContain('keep more in the stream');
    expect(follower.stats().failed).toBe(error.message);
    // Five looks with backoff from 100 ms, not a spin: at least a few hundred ms (a loaded
    // machine only adds to it). That it gave up at all is the WAL_BAD_STATE above.
    expect(Date.now() - started).toBeGreaterThan(200);
  });

  it('tells a follower restarted behind a trimmed stream that it is behind, not diverged, when the records it needs were never uploaded', async () => {
    const stream = streamName('behind');
    // Segments far larger than the test's records: none is sealed, none uploaded.
    const primary = await openPrimary(stream, {
      streamMaxMessages: 50,
      wal: { segmentSize: 4 * 1024 * 1024 },
    });
    const dir = tempDir();
    const follower = await Follower.open(dir, { servers: cluster().servers, stream });
    for (let i = 0; i < 100; i++) await primary.append(payloadFor(i));
    await follower.waitFor(100n, 20_000);
    await follower.close();
    // One record per message (sync, one append at a time): the stream keeps LSNs 151–200.
    for (let i = 100; i < 200; i++) await primary.append(payloadFor(i));

    const refused = await expectWalError(
      Follower.open(dir, { servers: cluster().servers, stream }),
      'WAL_BAD_STATE',
    );
    expect(refused).toMatchObject({
      details: { lsn: 100n, needFrom: 101n, streamFrom: 151n, uploadedTo: 0n },
    });
    expect(refused.message).toContain('behind and cannot catch up');
    expect(refused.message).toContain('LSNs 101–150 are in neither');
    expect(refused.message).not.toContain('diverge');
    // Refused without touching the directory: the log still ends where it did.
    expect((await readLog(dir)).length).toBe(100);
  });

  it('refuses a directory whose tail differs from the history even when the stream no longer reaches back there', async () => {
    const stream = streamName('trimmed-tail');
    const primary = await openPrimary(stream, {
      streamMaxMessages: 50,
      wal: { segmentSize: 16 * 1024 },
    });
    const dir = tempDir();
    const follower = await Follower.open(dir, { servers: cluster().servers, stream });
    for (let i = 0; i < 100; i++) await primary.append(payloadFor(i));
    await follower.waitFor(100n, 20_000);
    await follower.close();
    // A tail this directory holds and the history does not (as a fenced primary's).
    const local = await Wal.open(dir).storageIo('sync-fs').build();
    for (let i = 0; i < 5; i++) await local.append(Buffer.from(`not in the history ${i}`));
    await local.close();

    for (let i = 100; i < 600; i++) await primary.append(payloadFor(i));
    const deadline = Date.now() + 30_000;
    while (primary.stats().uploads.uploadedLsn < 105n && Date.now() < deadline) await sleep(50);
    const refused = await expectWalError(
      Follower.open(dir, { servers: cluster().servers, stream }),
      'WAL_DIVERGED',
    );
    expect(refused).toMatchObject({ details: { from: 101n, to: 105n } });
  });
});
