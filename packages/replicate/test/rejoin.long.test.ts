import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { Follower, rejoin } from '../src/index.js';
import { sleep, TcpProxy } from '../src/testing/index.js';
import { readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

describe('rejoin', () => {
  it('cuts a fenced primary’s unreplicated tail, hands it back, and follows the new primary to a byte-identical log', async () => {
    const stream = streamName('rejoin');
    const proxy = await TcpProxy.start(cluster().nodes[0]!.spec.clientPort);
    opened.push({ close: () => proxy.stop() });
    const old = await openPrimary(stream, {
      servers: [proxy.url],
      connection: { ignoreClusterUpdates: true },
      mode: 'async',
      requestTimeoutMs: 1_000,
    });
    for (let i = 0; i < 40; i++) await old.append(payloadFor(i));
    await old.waitReplicated(40n, 10_000);
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    await follower.waitFor(40n, 20_000);

    // Cut off, the async primary acknowledges LSNs 41-45 locally only.
    proxy.cut();
    for (let i = 40; i < 45; i++) await old.append(payloadFor(1000 + i));
    const promoted = await follower.promote();
    opened.push(promoted);
    proxy.heal();
    const deadline = Date.now() + 20_000;
    while (old.fenced === null && Date.now() < deadline) await sleep(50);
    expect(old.fenced).not.toBeNull();
    await old.close();
    // The new primary's own LSNs 41-60 hold other records.
    for (let i = 40; i < 60; i++) await promoted.append(payloadFor(i));

    const { follower: rejoined, cut } = await rejoin(old.dir, {
      servers: cluster().servers,
      stream,
    });
    opened.push(rejoined);
    expect(cut).toMatchObject({ from: 41n, to: 45n });
    expect(cut!.records.map((r) => r.lsn)).toEqual([41n, 42n, 43n, 44n, 45n]);
    cut!.records.forEach((r, k) => {
      expect(Buffer.from(r.payload).equals(payloadFor(1040 + k))).toBe(true);
    });

    await rejoined.waitFor(60n, 20_000);
    await rejoined.close();
    await promoted.close();
    expect(await readLog(old.dir)).toEqual(await readLog(promoted.dir));
  });

  it('refuses a directory that was never primary, and one still holding the lease', async () => {
    const stream = streamName('rejoin-refused');
    const primary = await openPrimary(stream);
    await primary.append(payloadFor(1));
    await primary.close();
    await expectWalError(
      rejoin(primary.dir, { servers: cluster().servers, stream }),
      'WAL_BAD_STATE',
    );
    await expectWalError(
      rejoin(tempDir(), { servers: cluster().servers, stream }),
      'WAL_BAD_STATE',
    );
  });
});
