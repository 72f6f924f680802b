import { badArgument, checkOptionKeys, invalidArgument } from '@walnut/codec';
import type { WalOptions } from '@walnut/wal';

export type ReplicationMode = 'sync' | 'async';
export type LagPolicy = 'block' | 'error';

/** What both a primary and a follower need to find the replicated log. */
export interface ClusterOptions {
  /** NATS server URLs (`nats://127.0.0.1:4222`), one or several of the cluster. */
  servers: string | string[];
  /** The replicated log's name: the JetStream stream, and the prefix of its buckets. */
  stream: string;
  /** Extra NATS connection options (name, user, pass, token, tls…), passed to `connect`. */
  connection?: Record<string, unknown>;
  /** Options for the local Wal (durability is always 'sync'). */
  wal?: WalOptions;
  /** Deadline of one JetStream request (publish, get, KV, object store). Default 5000 ms. */
  requestTimeoutMs?: number;
}

export interface PrimaryOptions extends ClusterOptions {
  /** `'sync'` (default): append resolves once local and replicated. `'async'`: once local. */
  mode?: ReplicationMode;
  /** Copies the stream, its key-value and object buckets keep (1, 3 or 5). Default 3. */
  replicas?: number;
  /** How long a `sync` append waits for the cluster before WAL_NOT_REPLICATED. Default 10000 ms. */
  replicationTimeoutMs?: number;
  /** Unreplicated bytes (payload+meta) allowed before `lagPolicy` applies. Default 64 MiB. */
  maxLagBytes?: number;
  /** At `maxLagBytes`: wait for the shipper (`'block'`, default) or reject (`'error'`). */
  lagPolicy?: LagPolicy;
  /** Publishes in flight at once. Default 64. */
  maxInFlight?: number;
  /** Stream retention: messages older than this are trimmed (ms; 0 = keep). Default 0. */
  streamMaxAgeMs?: number;
  /** Stream retention: at most this many bytes are kept (−1 = no limit). Default −1. */
  streamMaxBytes?: number;
  /** Stream retention: at most this many messages are kept (−1 = no limit). Default −1. */
  streamMaxMessages?: number;
  /** Upload sealed segments to the object store (how a trimmed follower catches up). Default true. */
  uploadSegments?: boolean;
}

export type FollowerOptions = ClusterOptions;

export interface ResolvedCluster {
  readonly servers: string[];
  readonly stream: string;
  readonly connection: Record<string, unknown>;
  readonly wal: WalOptions;
  readonly requestTimeoutMs: number;
}

export interface ResolvedPrimary extends ResolvedCluster {
  readonly mode: ReplicationMode;
  readonly replicas: number;
  readonly replicationTimeoutMs: number;
  readonly maxLagBytes: number;
  readonly lagPolicy: LagPolicy;
  readonly maxInFlight: number;
  readonly streamMaxAgeMs: number;
  readonly streamMaxBytes: number;
  readonly streamMaxMessages: number;
  readonly uploadSegments: boolean;
}

const PRIMARY_KEYS = [
  'servers',
  'stream',
  'connection',
  'wal',
  'requestTimeoutMs',
  'mode',
  'replicas',
  'replicationTimeoutMs',
  'maxLagBytes',
  'lagPolicy',
  'maxInFlight',
  'streamMaxAgeMs',
  'streamMaxBytes',
  'streamMaxMessages',
  'uploadSegments',
];
const FOLLOWER_KEYS = ['servers', 'stream', 'connection', 'wal', 'requestTimeoutMs'];

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    badArgument(name, 'a positive integer', value);
  }
  return value;
}

function limit(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) {
    badArgument(name, 'an integer ≥ −1 (−1 = no limit)', value);
  }
  return value;
}

export function resolveCluster(options: ClusterOptions, what: string): ResolvedCluster {
  if (typeof options !== 'object' || options === null)
    badArgument(what, 'an options object', options);
  const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    servers.some((s) => typeof s !== 'string' || s === '')
  ) {
    badArgument(`${what}.servers`, 'a NATS URL or a non-empty array of them', options.servers);
  }
  for (const server of servers) checkServerUrl(`${what}.servers`, server);
  // A stream name is also a subject token and a bucket name prefix.
  if (typeof options.stream !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(options.stream)) {
    badArgument(`${what}.stream`, 'a name of 1–64 letters, digits, _ or -', options.stream);
  }
  if (
    options.connection !== undefined &&
    (typeof options.connection !== 'object' || options.connection === null)
  ) {
    badArgument(`${what}.connection`, 'an object of NATS connection options', options.connection);
  }
  if (options.wal !== undefined && (typeof options.wal !== 'object' || options.wal === null)) {
    badArgument(`${what}.wal`, 'an object of Wal options', options.wal);
  }
  if (options.wal?.durability !== undefined && options.wal.durability !== 'sync') {
    badArgument(
      `${what}.wal.durability`,
      "'sync' (a replicated log is always durable locally first)",
      options.wal.durability,
    );
  }
  return {
    servers,
    stream: options.stream,
    connection: options.connection ?? {},
    wal: options.wal ?? {},
    requestTimeoutMs: positive(`${what}.requestTimeoutMs`, options.requestTimeoutMs, 5_000),
  };
}

const SERVER_URL_FORM =
  'a NATS server URL: nats://host:port or tls://host:port (or host:port; the port defaults to 4222)';

/**
 * Refuses what the NATS client could not connect to, before connecting: it would fail
 * later as a connection error (WAL_IO) that no retry mends. The Node client speaks TCP and
 * ignores the scheme (TLS comes from `connection.tls`), so a scheme other than nats:// or
 * tls:// (http://, ws://…) is a mistake, not a choice of transport.
 */
function checkServerUrl(name: string, server: string): void {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(server)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls') {
    badArgument(name, SERVER_URL_FORM, server);
  }
  const rest = scheme === undefined ? server : server.slice(scheme.length + 3);
  let url: URL | null = null;
  try {
    url = new URL(`nats://${rest}`);
  } catch {
    // Refused just below, naming the forms taken.
  }
  if (url === null) badArgument(name, SERVER_URL_FORM, server);
  if (url.username !== '' || url.password !== '') {
    invalidArgument(
      `${name}: the NATS client ignores credentials in a server URL (${server}); pass them as connection: { user, pass } or { token }`,
    );
  }
  if (
    url.hostname === '' ||
    url.port === '0' ||
    (url.pathname !== '' && url.pathname !== '/') ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    badArgument(name, SERVER_URL_FORM, server);
  }
}

export function resolvePrimary(options: PrimaryOptions): ResolvedPrimary {
  const cluster = resolveCluster(options, 'options');
  checkOptionKeys(options, PRIMARY_KEYS, 'ReplicatedWal.open()');
  const mode = options.mode ?? 'sync';
  if (mode !== 'sync' && mode !== 'async') badArgument('options.mode', "'sync' or 'async'", mode);
  const replicas = options.replicas ?? 3;
  if (replicas !== 1 && replicas !== 3 && replicas !== 5)
    badArgument('options.replicas', '1, 3 or 5', replicas);
  const lagPolicy = options.lagPolicy ?? 'block';
  if (lagPolicy !== 'block' && lagPolicy !== 'error')
    badArgument('options.lagPolicy', "'block' or 'error'", lagPolicy);
  if (options.uploadSegments !== undefined && typeof options.uploadSegments !== 'boolean') {
    badArgument('options.uploadSegments', 'a boolean', options.uploadSegments);
  }
  const maxAge = options.streamMaxAgeMs ?? 0;
  if (typeof maxAge !== 'number' || !Number.isSafeInteger(maxAge) || maxAge < 0) {
    badArgument('options.streamMaxAgeMs', 'a non-negative integer (0 = keep)', maxAge);
  }
  return {
    ...cluster,
    mode,
    replicas,
    replicationTimeoutMs: positive(
      'options.replicationTimeoutMs',
      options.replicationTimeoutMs,
      10_000,
    ),
    maxLagBytes: positive('options.maxLagBytes', options.maxLagBytes, 64 * 1024 * 1024),
    lagPolicy,
    maxInFlight: positive('options.maxInFlight', options.maxInFlight, 64),
    streamMaxAgeMs: maxAge,
    streamMaxBytes: limit('options.streamMaxBytes', options.streamMaxBytes, -1),
    streamMaxMessages: limit('options.streamMaxMessages', options.streamMaxMessages, -1),
    uploadSegments: options.uploadSegments ?? true,
  };
}

export function resolveFollower(options: FollowerOptions): ResolvedCluster {
  const cluster = resolveCluster(options, 'options');
  checkOptionKeys(options, FOLLOWER_KEYS, 'Follower.open()');
  return cluster;
}

/** The names one replicated log uses in JetStream. */
export function names(stream: string) {
  return {
    stream,
    subject: `walnut.${stream}.log`,
    kvBucket: `walnut-${stream}-lease`,
    objBucket: `walnut-${stream}-segments`,
    leaseKey: 'primary',
  };
}

/** What a call that waits (`waitReplicated`, `Follower.waitFor`) takes besides its timeout. */
export interface WaitOptions {
  /** Once it aborts, the wait rejects with its reason (an AbortError unless given another). */
  readonly signal?: AbortSignal;
}

/**
 * Checks `waitFor`-style arguments (WAL_BAD_ARGUMENT): an LSN, a timeout in milliseconds,
 * and WaitOptions.
 */
export function checkWait(lsn: unknown, timeoutMs: unknown, options?: unknown): void {
  if (typeof lsn !== 'bigint' || lsn < 0n) badArgument('lsn', 'a non-negative bigint', lsn);
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    badArgument('timeoutMs', 'a non-negative number', timeoutMs);
  }
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    badArgument('options', 'an options object ({ signal })', options);
  }
  checkOptionKeys(options, ['signal'], 'waitFor()');
  const { signal } = options as WaitOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    badArgument('options.signal', 'an AbortSignal', signal);
  }
}

/**
 * Calls `abort` with the signal's reason once `signal` aborts; returns what lets go of the
 * signal (call it when the wait settles otherwise, so a long-lived signal keeps no listener).
 */
export function whenAborted(
  signal: AbortSignal | undefined,
  abort: (reason: unknown) => void,
): () => void {
  if (signal === undefined) return () => undefined;
  const onAbort = () => abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** Checks `append` arguments (WAL_BAD_ARGUMENT), as `Batch.add` does. */
export function checkRecord(payload: unknown, meta: unknown): void {
  if (!(payload instanceof Uint8Array)) badArgument('payload', 'a Buffer or Uint8Array', payload);
  if (meta !== undefined && !(meta instanceof Uint8Array)) {
    badArgument('meta', 'a Buffer, Uint8Array or undefined', meta);
  }
}
