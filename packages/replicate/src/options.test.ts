import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { checkRecord, checkWait, resolveFollower, resolvePrimary } from './options.js';

const base = { servers: 'nats://127.0.0.1:4222', stream: 'orders' };

describe('replication options', () => {
  it('fill in the documented defaults', () => {
    expect(resolvePrimary(base)).toMatchObject({
      servers: ['nats://127.0.0.1:4222'],
      mode: 'sync',
      replicas: 3,
      replicationTimeoutMs: 10_000,
      maxLagBytes: 64 * 1024 * 1024,
      lagPolicy: 'block',
      maxInFlight: 64,
      requestTimeoutMs: 5_000,
      uploadSegments: true,
      streamMaxMessages: -1,
    });
  });

  it.each([
    [{ mode: 'fast' }, 'options.mode'],
    [{ replicas: 2 }, 'options.replicas'],
    [{ lagPolicy: 'drop' }, 'options.lagPolicy'],
    [{ maxLagBytes: 0 }, 'options.maxLagBytes'],
    [{ stream: 'a.b' }, 'options.stream'],
    [{ stream: '' }, 'options.stream'],
    [{ servers: [] }, 'options.servers'],
    [{ wal: { durability: 'none' } }, 'options.wal.durability'],
    [{ streamMaxMessages: -2 }, 'options.streamMaxMessages'],
    [{ replica: 3 }, '"replica" is not an option of ReplicatedWal.open() — did you mean replicas?'],
  ])('refuse %o with WAL_BAD_ARGUMENT naming %s', (bad, name) => {
    expect(
      expectWalError(() => resolvePrimary({ ...base, ...(bad as object) }), 'WAL_BAD_ARGUMENT'),
    ).toMatchObject({ message: expect.stringContaining(name) });
  });

  it.each([
    'not a url',
    'nats://127.0.0.1:99999',
    'nats://127.0.0.1:0',
    'http://127.0.0.1:24222',
    'ws://127.0.0.1:8080',
    'nats://127.0.0.1:4222/path',
    'nats://user:secret@127.0.0.1:4222',
  ])('refuse the server URL %j with WAL_BAD_ARGUMENT before connecting', (url) => {
    for (const servers of [url, ['nats://127.0.0.1:4222', url]]) {
      expect(
        expectWalError(() => resolvePrimary({ ...base, servers }), 'WAL_BAD_ARGUMENT'),
      ).toMatchObject({ message: expect.stringContaining('options.servers') });
      expectWalError(() => resolveFollower({ ...base, servers }), 'WAL_BAD_ARGUMENT');
    }
  });

  it.each([
    'nats://127.0.0.1:4222',
    'tls://nats-1.example:4443',
    'NATS://127.0.0.1',
    '127.0.0.1:4222',
    'localhost',
    'nats://[::1]:4222',
  ])('take the server URL %j as the NATS client does', (url) => {
    expect(resolvePrimary({ ...base, servers: url }).servers).toEqual([url]);
  });

  it('give a follower only what a follower takes', () => {
    expect(resolveFollower(base).stream).toBe('orders');
    expect(
      expectWalError(() => resolveFollower({ ...base, mode: 'sync' } as never), 'WAL_BAD_ARGUMENT'),
    ).toMatchObject({
      message: expect.stringContaining('"mode" is not an option of Follower.open()'),
    });
  });

  it.each([
    [() => checkWait(5, 1_000), 'lsn must be a non-negative bigint, got 5'],
    [() => checkWait(-1n, 100), 'lsn must be a non-negative bigint, got -1n'],
    [() => checkWait(5n, -1), 'timeoutMs must be a non-negative number, got -1'],
    [() => checkWait(5n, Number.NaN), 'timeoutMs must be a non-negative number, got NaN'],
    [
      () => checkWait(5n, 100, 'soon'),
      'options must be an options object ({ signal }), got "soon"',
    ],
    [
      () => checkWait(5n, 100, { signal: 'stop' }),
      'options.signal must be an AbortSignal, got "stop"',
    ],
    [
      () => checkWait(5n, 100, { sigal: AbortSignal.abort() }),
      expect.stringContaining('"sigal" is not an option of waitFor()'),
    ],
    [() => checkRecord('text', undefined), 'payload must be a Buffer or Uint8Array, got "text"'],
    [
      () => checkRecord(Buffer.alloc(1), 7),
      'meta must be a Buffer, Uint8Array or undefined, got 7',
    ],
  ])('refuse bad call arguments with WAL_BAD_ARGUMENT (%#)', (call, message) => {
    expect(expectWalError(call, 'WAL_BAD_ARGUMENT')).toMatchObject({ message });
  });
});
