/**
 * What a `sync` acknowledgement means on the cluster this primary talks to, in words a
 * user can act on. The client sees the server's version and the stream's replica count,
 * but not the servers' `sync_interval` setting, so both cases are stated.
 */
export interface Guarantee {
  readonly server: string;
  readonly replicas: number;
  /** What has happened when a `sync` append resolves. */
  readonly acknowledged: string;
  /** Failures after which every acknowledged record is still there. */
  readonly survives: readonly string[];
  /** Failures that can lose acknowledged records (beyond the primary's own disk). */
  readonly mayLose: readonly string[];
}

export function guarantee(replicas: number, serverVersion: string): Guarantee {
  const [major = 0, minor = 0] = serverVersion.split('.').map((p) => Number.parseInt(p, 10));
  const canSyncAlways = major > 2 || (major === 2 && minor >= 10);
  const quorum = Math.floor(replicas / 2) + 1;
  const held =
    replicas === 1
      ? 'the one server holding the stream wrote it to its file store (in the OS page cache)'
      : `${quorum} of the ${replicas} servers holding the stream (a Raft majority) stored it in their file stores (in the OS page cache)`;
  const fsyncNote = canSyncAlways
    ? "the servers fsync on their own schedule — every 2 minutes by default (jetstream sync_interval); only with 'sync_interval: always' does each server fsync before it acknowledges, and the client cannot see which is configured"
    : `nats-server ${serverVersion} fsyncs about every 2 minutes (a fixed interval: the sync_interval option came in 2.10) and cannot fsync before acknowledging`;
  return {
    server: serverVersion,
    replicas,
    acknowledged: `the record is durable on this primary's disk (fdatasync), and ${held}; ${fsyncNote}`,
    survives: [
      'the loss of the primary machine, its disk included (the record is in the stream)',
      ...(replicas > 1
        ? [
            `the crash or loss of ${replicas - quorum} stream server${replicas - quorum === 1 ? '' : 's'} (a majority keeps it)`,
            'the crash of server processes (kill -9): the page cache keeps what they wrote',
          ]
        : ['the crash of the server process (kill -9): the page cache keeps what it wrote']),
    ],
    mayLose: [
      replicas > 1
        ? `a power loss or kernel crash of ${quorum} or more stream servers within their sync interval (unless every server runs with 'sync_interval: always'), together with the loss of the primary's disk`
        : "a power loss or kernel crash of the one stream server within its sync interval (unless it runs with 'sync_interval: always'), together with the loss of the primary's disk",
      ...(replicas === 1
        ? ['the loss of the one stream server’s disk, together with the primary’s']
        : []),
    ],
  };
}
