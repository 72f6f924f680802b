import { ReplicatedWal } from '@walnut/replicate';
import { NatsCluster } from '@walnut/replicate/testing';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers.js';

afterEach(removeTempDirs);

// A real nats-server on loopback (one node is enough for the command line's behaviour).
let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await NatsCluster.start({ size: 1 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('walnut follow and walnut promote', () => {
  it('follow copies the stream until --until; promote makes the copy the primary and fences the old one', async () => {
    const stream = `cli-${process.pid}`;
    const primary = await ReplicatedWal.open(tempDir(), {
      servers: cluster.servers,
      stream,
      replicas: 1,
    });
    for (let i = 1; i <= 30; i++) await primary.append(Buffer.from(`record ${i}`));
    const dir = tempDir();
    const servers = cluster.servers.join(',');

    const follow = await cli(
      'follow',
      dir,
      '--servers',
      servers,
      '--stream',
      stream,
      '--until',
      '30',
      '--json',
    );
    expect(follow.code).toBe(0);
    const events = follow.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.at(-1)).toMatchObject({
      event: 'stopped',
      stream,
      appliedLsn: '30',
      epoch: 1,
      staleMessages: 0,
      holesMet: 0,
      lastError: null,
      failed: null,
    });
    expect(events.at(-1).streamSeq).toBeGreaterThan(1);
    expect(events.at(-1).messages).toBeGreaterThan(0);

    const promote = await cli('promote', dir, '--servers', servers, '--stream', stream);
    expect(promote.code).toBe(0);
    expect(promote.stdout).toContain('epoch 2');
    await expectWalError(primary.append(Buffer.from('late')), 'WAL_FENCED');
    await primary.close();

    const wal = await Wal.open(dir).storageIo('sync-fs').build();
    const payloads: string[] = [];
    await wal.replay(1n, (r) => {
      payloads.push(r.payload.toString());
    });
    await wal.close();
    expect(payloads).toEqual(Array.from({ length: 30 }, (_, i) => `record ${i + 1}`));
  });

  it('rejoin makes the fenced old primary a follower again, ending equal to the new primary', async () => {
    const stream = `cli-rejoin-${process.pid}`;
    const oldDir = tempDir();
    const old = await ReplicatedWal.open(oldDir, { servers: cluster.servers, stream, replicas: 1 });
    for (let i = 1; i <= 10; i++) await old.append(Buffer.from(`record ${i}`));
    await old.close();
    const dir = tempDir();
    const servers = cluster.servers.join(',');
    expect(
      (await cli('follow', dir, '--servers', servers, '--stream', stream, '--until', '10')).code,
    ).toBe(0);
    expect((await cli('promote', dir, '--servers', servers, '--stream', stream)).code).toBe(0);
    const promoted = await ReplicatedWal.open(dir, {
      servers: cluster.servers,
      stream,
      replicas: 1,
    });
    for (let i = 11; i <= 15; i++) await promoted.append(Buffer.from(`record ${i}`));
    await promoted.close();

    const r = await cli('rejoin', oldDir, '--servers', servers, '--stream', stream, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      event: 'rejoined',
      cut: null,
    });
    const follow = await cli(
      'follow',
      oldDir,
      '--servers',
      servers,
      '--stream',
      stream,
      '--until',
      '15',
    );
    expect(follow.code).toBe(0);
    const read = async (d: string) => {
      const wal = await Wal.open(d).storageIo('sync-fs').build();
      const payloads: string[] = [];
      await wal.replay(1n, (rec) => {
        payloads.push(rec.payload.toString());
      });
      await wal.close();
      return payloads;
    };
    expect(await read(oldDir)).toEqual(await read(dir));
    // Not fenced any more: a second rejoin finds no takeover after its epoch.
    expect((await cli('rejoin', dir, '--servers', servers, '--stream', stream)).code).toBe(3);
  });

  it('fails with exit code 3 and a clear message when the stream does not exist', async () => {
    const r = await cli(
      'follow',
      tempDir(),
      '--servers',
      cluster.servers.join(','),
      '--stream',
      'nothing-here',
      '--until',
      '1',
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("'nothing-here' does not exist");
  });

  it('refuses a missing --servers as a usage error', async () => {
    const r = await cli('promote', tempDir(), '--stream', 'x');
    expect(r.code).toBe(2);
  });
});
