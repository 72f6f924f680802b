import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { isWalError } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import type { ReplicatedWal } from '../src/index.js';
import { sleep } from '../src/testing/index.js';
import { contiguous, expectAcknowledgedIn, streamName, useReplication } from './helpers.js';

// Every node runs again for the next test.
const { cluster, openPrimary, followerCopy } = useReplication(async (running) => {
  for (const node of running.nodes) await node.start();
  await running.waitForJetStream(30_000);
});

interface Run {
  acked: Map<bigint, number>;
  failures: Map<string, number>;
  maxLatencyMs: number;
}

/**
 * `producers` concurrent appenders, each until `perProducer` records or `deadline`; `during`
 * runs once `startAfter` records were acknowledged. Bounded in count and time.
 */
async function produce(
  primary: ReplicatedWal,
  options: { producers: number; perProducer: number; startAfter: number; deadlineMs: number },
  during: () => Promise<void>,
): Promise<Run> {
  const run: Run = { acked: new Map(), failures: new Map(), maxLatencyMs: 0 };
  const deadline = Date.now() + options.deadlineMs;
  let next = 0;
  let fired: Promise<void> | null = null;
  await Promise.all(
    Array.from({ length: options.producers }, async () => {
      for (let k = 0; k < options.perProducer && Date.now() < deadline; k++) {
        const i = next++;
        const started = performance.now();
        try {
          const lsn = await primary.append(payloadFor(i));
          run.acked.set(lsn, i);
          run.maxLatencyMs = Math.max(run.maxLatencyMs, performance.now() - started);
        } catch (error) {
          const code = isWalError(error) ? error.code : String(error);
          run.failures.set(code, (run.failures.get(code) ?? 0) + 1);
        }
        if (fired === null && run.acked.size >= options.startAfter) fired = during();
      }
    }),
  );
  await fired;
  return run;
}

/** A fresh follower's copy must hold every acknowledged record, byte for byte, LSNs contiguous. */
async function checkOnFreshFollower(stream: string, run: Run, upTo: bigint): Promise<void> {
  const copy = await followerCopy(stream, upTo, { timeoutMs: 60_000 });
  contiguous(copy);
  expectAcknowledgedIn(copy, run.acked);
}

describe('failures of the cluster under sync appends from 64 producers', () => {
  it('kill -9 of the stream leader: appends stall, then resume; nothing acknowledged is lost', async () => {
    const stream = streamName('leader');
    const primary = await openPrimary(stream, {
      requestTimeoutMs: 2_000,
      replicationTimeoutMs: 60_000,
    });
    await primary.append(payloadFor(0));
    const leader = await cluster().streamLeader(stream);
    const run = await produce(
      primary,
      { producers: 64, perProducer: 40, startAfter: 500, deadlineMs: 90_000 },
      async () => {
        await cluster().node(leader).kill();
      },
    );
    expect(Object.fromEntries(run.failures)).toEqual({});
    expect(run.acked.size).toBe(64 * 40);
    const newLeader = await cluster().streamLeader(stream);
    expect(newLeader).not.toBe(leader);
    console.log(
      `leader ${leader} killed: longest commit ${run.maxLatencyMs.toFixed(0)} ms, ${primary.stats().shipper.reconciles} reconciles`,
    );
    await cluster().node(leader).start();
    await checkOnFreshFollower(stream, run, primary.lastLsn);
  });

  it('kill -9 of a non-leader replica: appends go on, none fails', async () => {
    const stream = streamName('replica');
    const primary = await openPrimary(stream, {
      requestTimeoutMs: 2_000,
      replicationTimeoutMs: 60_000,
    });
    await primary.append(payloadFor(0));
    const leader = await cluster().streamLeader(stream);
    // A replica that is not the stream leader, and not the node the primary is connected to.
    const connectedPort = Number(primary.stats().connectedServer?.split(':').pop());
    const victim =
      cluster().nodes.find((n) => n.spec.name !== leader && n.spec.clientPort !== connectedPort) ??
      cluster().nodes.find((n) => n.spec.name !== leader)!;
    const run = await produce(
      primary,
      { producers: 64, perProducer: 40, startAfter: 500, deadlineMs: 90_000 },
      async () => {
        await victim.kill();
      },
    );
    expect(Object.fromEntries(run.failures)).toEqual({});
    expect(run.acked.size).toBe(64 * 40);
    console.log(
      `replica ${victim.spec.name} killed: longest commit ${run.maxLatencyMs.toFixed(0)} ms`,
    );
    await checkOnFreshFollower(stream, run, primary.lastLsn);
  });

  it('losing the quorum: sync appends fail after the bounded wait with WAL_NOT_REPLICATED, retries back off, and the records ship once it returns', async () => {
    const stream = streamName('quorum');
    const primary = await openPrimary(stream, {
      requestTimeoutMs: 1_000,
      replicationTimeoutMs: 2_000,
    });
    for (let i = 0; i < 20; i++) await primary.append(payloadFor(i));
    const leader = await cluster().streamLeader(stream);
    const others = cluster().nodes.filter((n) => n.spec.name !== leader);
    await Promise.all(others.map((n) => n.kill()));

    const before = primary.stats().shipper.failedPublishes;
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, p) =>
        expectWalError(primary.append(payloadFor(20 + p)), 'WAL_NOT_REPLICATED'),
      ),
    );
    for (const error of outcomes) {
      expect(error).toMatchObject({ details: { locallyDurable: true } });
      expect(error.message).toContain('durable in the local log');
    }
    // The records are durable locally even though the cluster never acknowledged them.
    expect(primary.durableLsn).toBe(28n);
    // Keep the outage a few seconds more: the shipper backs off instead of hammering.
    await sleep(4_000);
    const attempts =
      primary.stats().shipper.failedPublishes - before + primary.stats().shipper.reconciles;
    const seconds = (Date.now() - started) / 1_000;
    console.log(`quorum lost ${seconds.toFixed(1)} s: ${attempts} failed publishes + reconciles`);
    expect(attempts).toBeLessThan(seconds * 20);

    await Promise.all(others.map((n) => n.start()));
    expect(await primary.waitReplicated(28n, 60_000)).toBe(28n);
    expect(await primary.append(payloadFor(28))).toBe(29n);
    const run: Run = {
      acked: new Map(Array.from({ length: 29 }, (_, i) => [BigInt(i + 1), i])),
      failures: new Map(),
      maxLatencyMs: 0,
    };
    await checkOnFreshFollower(stream, run, 29n);
  });
});
