import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { Follower, type PrimaryOptions } from '../src/index.js';
import { sleep, TcpProxy } from '../src/testing/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

async function proxiedPrimary(options: Partial<PrimaryOptions>) {
  const proxy = await TcpProxy.start(cluster().nodes[2]!.spec.clientPort);
  opened.push({ close: () => proxy.stop() });
  const primary = await openPrimary(streamName('async'), {
    servers: [proxy.url],
    connection: { ignoreClusterUpdates: true },
    mode: 'async',
    requestTimeoutMs: 1_000,
    ...options,
  });
  return { proxy, primary };
}

describe('async mode', () => {
  it('acknowledges on local durability, ships behind, and reports the lag in records, bytes and time', async () => {
    const { proxy, primary } = await proxiedPrimary({});
    const last = await Promise.all(
      Array.from({ length: 500 }, (_, i) => primary.append(payloadFor(i))),
    ).then((l) => l.at(-1)!);
    expect(primary.durableLsn).toBeGreaterThanOrEqual(last);
    expect(await primary.waitReplicated(last, 20_000)).toBe(last);
    expect(primary.stats().lag).toEqual({ records: 0n, bytes: 0, ms: 0 });

    proxy.cut();
    for (let i = 500; i < 510; i++) await primary.append(payloadFor(i, 100));
    await sleep(200);
    const lag = primary.stats().lag;
    expect(lag.records).toBe(10n);
    // As a health endpoint sends it: the LSNs as decimal strings, the Wal's stats within.
    expect(JSON.parse(JSON.stringify(primary.stats()))).toMatchObject({
      lastLsn: '510',
      lag: { records: '10', bytes: 1_000 },
      wal: { lastLsn: '510' },
    });
    expect(lag.bytes).toBe(1_000);
    expect(lag.ms).toBeGreaterThanOrEqual(150);
    await expectWalError(primary.waitReplicated(510n, 300), 'WAL_TIMEOUT');
    proxy.heal();
    expect(await primary.waitReplicated(510n, 30_000)).toBe(510n);
    expect(primary.stats().lag.records).toBe(0n);

    expect(contiguous(await followerCopy(primary.stream, 510n))).toBe(510);
  });

  it("waitReplicated and a follower's waitFor reject with the signal's reason; shipping and applying go on", async () => {
    const { proxy, primary } = await proxiedPrimary({});
    await primary.append(payloadFor(0));
    await primary.waitReplicated(1n, 20_000);
    const dir = tempDir();
    const follower = await Follower.open(dir, {
      servers: cluster().servers,
      stream: primary.stream,
    });
    opened.push(follower);
    await follower.waitFor(1n, 20_000);

    proxy.cut();
    const lsn = await primary.append(payloadFor(1));
    const stop = new AbortController();
    const replicated = primary.waitReplicated(lsn, 60_000, { signal: stop.signal });
    const applied = follower.waitFor(lsn, 60_000, { signal: stop.signal });
    stop.abort();
    await expect(replicated).rejects.toMatchObject({ name: 'AbortError' });
    await expect(applied).rejects.toMatchObject({ name: 'AbortError' });
    const reason = new Error('gave up');
    await expect(
      primary.waitReplicated(lsn, 60_000, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    await expect(follower.waitFor(lsn, 60_000, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );

    proxy.heal();
    expect(await primary.waitReplicated(lsn, 30_000)).toBe(lsn);
    expect(await follower.waitFor(lsn, 30_000)).toBeGreaterThanOrEqual(lsn);
    await follower.close();
    expect(contiguous(await readLog(dir))).toBe(2);
  });

  it("maxLagBytes with lagPolicy 'error' refuses appends while the cluster is out of reach", async () => {
    const { proxy, primary } = await proxiedPrimary({ maxLagBytes: 10_000, lagPolicy: 'error' });
    await primary.append(payloadFor(0));
    await primary.waitReplicated(1n, 20_000);
    proxy.cut();
    let accepted = 0;
    let refusal: unknown = null;
    for (let i = 0; i < 100 && refusal === null; i++) {
      await primary.append(payloadFor(i, 1_000)).then(
        () => accepted++,
        (error) => {
          refusal = error;
        },
      );
    }
    expect(accepted).toBe(10);
    expectWalError(() => {
      throw refusal;
    }, 'WAL_BACKPRESSURE');
    expect(primary.lastLsn).toBe(11n);
    proxy.heal();
    await primary.waitReplicated(11n, 30_000);
    expect(await primary.append(payloadFor(11))).toBe(12n);
  });

  it("maxLagBytes with lagPolicy 'block' holds appends until the shipper catches up", async () => {
    const { proxy, primary } = await proxiedPrimary({ maxLagBytes: 5_000 });
    proxy.cut();
    for (let i = 0; i < 5; i++) await primary.append(payloadFor(i, 1_000));
    let resolved = false;
    const held = primary.append(payloadFor(5, 1_000)).then((lsn) => {
      resolved = true;
      return lsn;
    });
    await sleep(500);
    expect(resolved).toBe(false);
    expect(primary.lastLsn).toBe(5n);
    proxy.heal();
    expect(await held).toBe(6n);
  });

  it("maxLagBytes bounds concurrent appends too: lagPolicy 'error' refuses all but the first few", async () => {
    const { proxy, primary } = await proxiedPrimary({ maxLagBytes: 4_096, lagPolicy: 'error' });
    proxy.cut();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 1_000 }, (_, i) => primary.append(payloadFor(i, 1_024))),
    );
    const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(accepted).toBe(4);
    const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'WAL_BACKPRESSURE' });
    expect(primary.lastLsn).toBe(4n);
    expect(primary.stats().lag.bytes).toBe(4_096);
    proxy.heal();
    expect(await primary.waitReplicated(4n, 30_000)).toBe(4n);
  });

  for (const mode of ['async', 'sync'] as const) {
    it(`maxLagBytes bounds concurrent ${mode} appends too: lagPolicy 'block' holds the rest`, async () => {
      const { proxy, primary } = await proxiedPrimary({
        mode,
        maxLagBytes: 4_096,
        replicationTimeoutMs: 60_000,
      });
      proxy.cut();
      const appends = Array.from({ length: 200 }, (_, i) => primary.append(payloadFor(i, 1_024)));
      await sleep(500);
      expect(primary.lastLsn).toBe(4n);
      expect(primary.stats().lag.bytes).toBe(4_096);
      proxy.heal();
      const lsns = await Promise.all(appends);
      expect(new Set(lsns).size).toBe(200);
      expect(await primary.waitReplicated(200n, 30_000)).toBe(200n);
    });
  }
});
