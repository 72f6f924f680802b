import { jetstreamManager } from '@nats-io/jetstream';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { ClusterLink } from '../src/cluster/link.js';
import { resolveFollower } from '../src/options.js';
import { streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

async function linkTo(stream: string): Promise<ClusterLink> {
  const link = await ClusterLink.open(
    resolveFollower({ servers: cluster().servers, stream }),
    null,
  );
  opened.push(link);
  return link;
}

describe("a stream leader's step-down (what a primary does before re-seeding a short stream)", () => {
  it('names the leader and every server holding a copy, and hands the stream to another server', async () => {
    const stream = streamName('step-down');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 20; i++) await primary.append(payloadFor(i));
    const link = await linkTo(stream);

    const before = await link.leadership();
    expect(before?.leader).toBe(await cluster().streamLeader(stream));
    expect([...before!.servers].sort()).toEqual(['n1', 'n2', 'n3']);

    expect(await link.stepDown(before!.leader)).toBe(true);
    const after = await link.leadership();
    expect(after?.leader).not.toBe(before!.leader);
    expect([...after!.servers].sort()).toEqual(['n1', 'n2', 'n3']);

    // The primary ships on to the new leader: `sync` appends resolve once replicated.
    for (let i = 20; i < 40; i++) await primary.append(payloadFor(i));
    expect(primary.stats().replicatedLsn).toBe(40n);
  });

  it('finds no leader for a stream the cluster no longer has', async () => {
    const stream = streamName('step-down-gone');
    const primary = await openPrimary(stream);
    await primary.append(payloadFor(0));
    const link = await linkTo(stream);
    await primary.close();
    await (await jetstreamManager(link.nc)).streams.delete(stream);
    expect(await link.leadership()).toBeNull();
  });
});
