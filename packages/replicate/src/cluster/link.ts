import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type MsgRequest,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamInfo,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm, setSha256Backend } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WalError, WalErrorCode } from '@walnut/codec';
import { names, type ResolvedCluster, type ResolvedPrimary } from '../options.js';
import { Backoff, pause } from './backoff.js';
import { decodeHeader, type MessageHeader, MessageKind, messageCrc } from './message.js';

/** JetStream's error code for a publish whose expected last sequence was not the stream's. */
export const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's error code for a publish whose expected last message id was not the stream's. */
export const WRONG_LAST_MSG_ID = 10070;
/** The header holding a stored message's id. */
const MSG_ID_HEADER = 'Nats-Msg-Id';
/** JetStream's "no suitable peers for placement": too few servers for the replicas asked. */
const NO_SUITABLE_PEERS = 10005;
/** JetStream's "replicas > 1 not supported in non-clustered mode". */
const REPLICAS_NOT_CLUSTERED = 10074;

/** How long a step-down waits for another server to lead the stream, and how often it looks. */
const STEP_DOWN_WAIT_MS = 10_000;
const STEP_DOWN_POLL_MS = 200;

/** Who serves the stream: its leader, and every server holding a copy (the leader first). */
export interface Leadership {
  readonly leader: string;
  readonly servers: readonly string[];
}

/** A stored message's place in the stream and its decoded header. */
export interface StreamPosition {
  /** The stream sequence of the last message (0: the stream is empty). */
  readonly seq: number;
  /** That message's header, or null when the stream is empty. */
  readonly header: MessageHeader | null;
  /** That message's CRC32C (its content's name), or null when the stream is empty. */
  readonly crc: number | null;
  /** That message's id (`Nats-Msg-Id`), or null when the stream is empty or it has none. */
  readonly id: string | null;
  /**
   * The stream's last sequence, when it is past `seq`: the messages after `seq` are gone
   * (deleted, or lost by a server that kept their sequences). The next publish expects it.
   */
  readonly lastSeq?: number;
}

/**
 * The last LSN the stream holds, by its last message: a records message's last LSN, the LSN
 * an epoch marker's epoch begins after, 0n for an empty stream.
 */
export function lastLsnInStream(position: StreamPosition): bigint {
  const header = position.header;
  if (header === null) return 0n;
  return header.kind === MessageKind.EPOCH ? header.firstLsn - 1n : header.lastLsn;
}

/**
 * What a publish requires of the stream: its last sequence, and the id of its last message
 * (null: none required — an empty stream, or a server that forgot it; docs/decisions/0909).
 */
export interface Expected {
  readonly seq: number;
  readonly id: string | null;
}

/**
 * The connection to NATS and the three JetStream objects one replicated log uses: the
 * stream (one message per group of records, in LSN order), the key-value bucket holding
 * the primary's lease, and the object store holding sealed segments.
 */
export class ClusterLink {
  readonly names: ReturnType<typeof names>;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    kv: KV,
    objects: ObjectStore,
    readonly requestTimeoutMs: number,
    stream: string,
  ) {
    this.names = names(stream);
    this.kv = kv;
    this.objects = objects;
  }

  /** The lease bucket (bound again by `recreate` after the cluster lost it). */
  kv: KV;
  /** The segment store (bound again by `recreate` after the cluster lost it). */
  objects: ObjectStore;

  /**
   * Creates the stream and the lease bucket if the cluster no longer has them (a primary
   * re-seeding after the stream went back) and binds the bucket again. Not the object
   * bucket: a re-seed does not need it, and a cluster that does not answer for it (seen
   * with nats-server 2.9.10 for minutes after a takeover) must not hold the re-seed up;
   * the uploader recreates it (`recreateObjects`).
   */
  async recreate(create: ResolvedPrimary): Promise<void> {
    await ensureStream(this.jsm, create);
    this.kv = await new Kvm(this.js).create(this.names.kvBucket, {
      replicas: create.replicas,
      history: 1,
    });
  }

  /** Creates the object bucket if the cluster no longer has it, and binds it again. */
  async recreateObjects(create: ResolvedPrimary): Promise<void> {
    this.objects = await new Objm(this.js).create(this.names.objBucket, {
      replicas: create.replicas,
      storage: StorageType.File,
    });
  }

  /**
   * Connects and binds the stream and buckets: a primary creates what is missing
   * (`create`), a follower requires them to exist.
   */
  static async open(
    options: ResolvedCluster,
    create: ResolvedPrimary | null,
  ): Promise<ClusterLink> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: `walnut-${options.stream}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // The client's own default waits 20 s on a server that accepts and never answers.
        timeout: options.requestTimeoutMs,
        // A connection left half-open (a NAT or firewall dropped it without a reset) carries
        // nothing and raises no error: only the client's pings find it, by default after two
        // unanswered pings 2 min apart, and every request fails until then. One ping per
        // request timeout finds it in two or three of them.
        pingInterval: options.requestTimeoutMs,
        maxPingOut: 2,
        ...options.connection,
      });
    } catch (error) {
      throw new WalError(
        WalErrorCode.IO,
        `cannot connect to NATS at ${options.servers.join(', ')} (${describe(error)}); check that the servers run and are reachable`,
        { cause: error },
      );
    }
    // A cluster electing a meta or stream leader answers nothing for a few seconds, and one
    // whose peer missed heartbeats (a loaded machine) refuses to place a replicated stream
    // ("no suitable peers", JetStream error 10005) until it is back: the setup is tried
    // again, with backoff, for three to six seconds before giving up.
    const backoff = new Backoff(250, 2_000);
    for (let attempt = 1; ; attempt++) {
      try {
        return await ClusterLink.bind(nc, options, create);
      } catch (caught) {
        const error = (create && tooFewServers(caught, create.replicas, nc)) || caught;
        if (error instanceof WalError || attempt >= 6) {
          await nc.close().catch(() => undefined);
          if (error instanceof WalError) throw error;
          throw new WalError(
            WalErrorCode.IO,
            `cannot set up the replicated log '${options.stream}' on NATS (${describe(error)}); check that JetStream is enabled and a quorum of the cluster is up, then retry`,
            { cause: error },
          );
        }
        await pause(backoff.next());
      }
    }
  }

  private static async bind(
    nc: NatsConnection,
    options: ResolvedCluster,
    create: ResolvedPrimary | null,
  ): Promise<ClusterLink> {
    const n = names(options.stream);
    const timeout = options.requestTimeoutMs;
    const jsm = await jetstreamManager(nc, { timeout });
    const js = jetstream(nc, { timeout });
    if (create) {
      await ensureStream(jsm, create);
    } else {
      await jsm.streams.info(n.stream).catch((error) => {
        if (!(error instanceof JetStreamApiError) || error.status !== 404) throw error;
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `the replicated log '${n.stream}' does not exist on this cluster (${describe(error)}); open its primary first (ReplicatedWal.open)`,
          { cause: error },
        );
      });
    }
    // The object store hashes every segment it uploads or restores. Its default hasher is
    // JavaScript: ~0.5 s of this thread per 64 MiB segment, blocking the appends' event
    // loop; node:crypto's gives the same digest in a fraction of that (decision 0907).
    setSha256Backend('native');
    const replicas = create?.replicas;
    const kvm = new Kvm(js);
    const objm = new Objm(js);
    // Created if missing, then bound: a bucket bound by `open` reads from the stream's
    // leader, where one returned by `create` reads any copy (JetStream's direct get). A
    // lagging copy can answer with an older lease revision, which the compare-and-set then
    // refuses as another node's change; nemesis seeds 7979 and 8080 stalled 120 s and more
    // on that refusal after power cuts.
    if (create) await kvm.create(n.kvBucket, { replicas, history: 1 });
    const kv = await kvm.open(n.kvBucket);
    const objects = create
      ? await objm.create(n.objBucket, { replicas, storage: StorageType.File })
      : await objm.open(n.objBucket);
    return new ClusterLink(nc, js, jsm, kv, objects, timeout, options.stream);
  }

  /**
   * Publishes one message, stored only if the stream's last message is the one `expected`
   * names: its sequence, and its id — a sequence another writer's message can take too, an
   * id names one writer's content (docs/decisions/0909).
   */
  publish(
    body: Uint8Array,
    msgId: string,
    expected: Expected,
    timeoutMs?: number,
  ): Promise<PubAck> {
    return this.js.publish(this.names.subject, body, {
      msgID: msgId,
      expect: {
        lastSequence: expected.seq,
        streamName: this.names.stream,
        ...(expected.id === null ? {} : { lastMsgID: expected.id }),
      },
      timeout: timeoutMs ?? this.requestTimeoutMs,
    });
  }

  /**
   * Publishes right after `after`, the stream's last message as just read (its sequence and
   * id). nats-server 2.9.10 keeps the last id in memory and may have forgotten it (rebuilt
   * after a restart only from the 2-minute duplicate window; kept stale on a copy caught up
   * from its peers): refused by id while a read shows the stream still ending with `after`,
   * it is published again on the sequence alone (decision 0909).
   */
  async publishAfter(body: Uint8Array, msgId: string, after: StreamPosition): Promise<PubAck> {
    try {
      return await this.publish(body, msgId, { seq: after.lastSeq ?? after.seq, id: after.id });
    } catch (error) {
      if (!isWrongLastMsgId(error) || after.id === null) throw error;
      const again = await this.lastPosition();
      if (again.seq !== after.seq || again.id !== after.id) throw error;
      return await this.publish(body, msgId, { seq: after.lastSeq ?? after.seq, id: null });
    }
  }

  /**
   * The stream's last message (asked of its leader, so never a stale replica's view). When
   * the message at the last sequence is gone, the newest one still held, with `lastSeq`.
   */
  async lastPosition(): Promise<StreamPosition> {
    const info = await this.streamInfo();
    // Gone (a cluster that lost its stores): it holds nothing, as an empty stream.
    if (info === null) return { seq: 0, header: null, crc: null, id: null };
    const seq = info.state.last_seq;
    if (info.state.messages === 0 || seq === 0) return { seq, header: null, crc: null, id: null };
    const message =
      (await this.jsm.streams.getMessage(this.names.stream, { seq })) ??
      (await this.newestHeld(info.state.first_seq, seq));
    if (message === null) return { seq, header: null, crc: null, id: null };
    const header = decodeHeader(message.data, `${this.names.stream}#${message.seq}`);
    const crc = messageCrc(message.data);
    // Older than the last sequence: its id is not what the server expects next (0909).
    if (message.seq < seq) return { seq: message.seq, header, crc, id: null, lastSeq: seq };
    return { seq: message.seq, header, crc, id: message.header?.get(MSG_ID_HEADER) || null };
  }

  /**
   * The server leading the stream and every server holding a copy of it, the leader first;
   * null when the stream is gone or has no leader now.
   */
  async leadership(): Promise<Leadership | null> {
    const info = await this.streamInfo();
    const leader = info?.cluster?.leader;
    if (info === null || leader === undefined || leader === '') return null;
    const others = (info.cluster?.replicas ?? []).map((peer) => peer.name);
    return { leader, servers: [leader, ...others] };
  }

  /**
   * Asks `leader` to stop leading the stream (nats-server's stream leader step-down, which
   * the client does not wrap), then waits up to STEP_DOWN_WAIT_MS for another server to lead
   * it. Throws what the server refused with; returns whether the leader changed.
   */
  async stepDown(leader: string): Promise<boolean> {
    const reply = await this.nc.request(
      `$JS.API.STREAM.LEADER.STEPDOWN.${this.names.stream}`,
      undefined,
      { timeout: this.requestTimeoutMs },
    );
    const answer = reply.json<{
      error?: { code: number; err_code: number; description: string };
    }>();
    if (answer.error !== undefined) throw new JetStreamApiError(answer.error);
    const until = Date.now() + STEP_DOWN_WAIT_MS;
    while (Date.now() < until) {
      const now = await this.leadership().catch(() => null);
      if (now !== null && now.leader !== leader) return true;
      await pause(STEP_DOWN_POLL_MS);
    }
    return false;
  }

  /** The stream's info, or null when the cluster no longer has the stream. */
  private streamInfo(): Promise<StreamInfo | null> {
    return this.jsm.streams.info(this.names.stream).catch((error) => {
      if (error instanceof JetStreamApiError && error.status === 404) return null;
      throw error;
    });
  }

  /** First and last sequence currently stored (first > last when empty). */
  async bounds(): Promise<{ first: number; last: number }> {
    const info = await this.jsm.streams.info(this.names.stream);
    return { first: info.state.first_seq, last: info.state.last_seq };
  }

  /** The message at `seq` (its bytes), or null when it is no longer (or not yet) stored. */
  async messageAt(seq: number): Promise<Uint8Array | null> {
    try {
      const message = await this.jsm.streams.getMessage(this.names.stream, { seq });
      return message?.data ?? null;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * The sequence of the first stored message that holds an LSN ≥ `lsn` (a marker counts as
   * holding its first LSN), by binary search over the stream; null when every stored
   * message is below `lsn`. Also says whether the stream still reaches back to `lsn`.
   */
  async findSequence(lsn: bigint): Promise<{ seq: number | null; reachesBack: boolean }> {
    let { first, last } = await this.bounds();
    if (last < first || last === 0) return { seq: null, reachesBack: false };
    const head = await this.heldFrom(first);
    if (head === null) return { seq: null, reachesBack: false };
    const reachesBack = head.header.firstLsn <= lsn;
    let answer: number | null = null;
    // A sequence without a message (deleted, trimmed meanwhile) stands for the next held one.
    while (first <= last) {
      const mid = Math.floor((first + last) / 2);
      const held = await this.heldFrom(mid);
      if (held === null || held.seq > last) {
        last = mid - 1;
      } else if (held.header.lastLsn >= lsn || held.header.firstLsn >= lsn) {
        answer = held.seq;
        last = mid - 1;
      } else {
        first = held.seq + 1;
      }
    }
    return { seq: answer, reachesBack };
  }

  /** The first message held at or after `seq`, or null when none is. */
  private async heldFrom(seq: number): Promise<{ seq: number; header: MessageHeader } | null> {
    const message = await this.nextHeld(seq);
    if (message === null) return null;
    return {
      seq: message.seq,
      header: decodeHeader(message.data, `${this.names.stream}#${message.seq}`),
    };
  }

  private async nextHeld(seq: number): Promise<StoredMsg | null> {
    try {
      // nats-server's message get takes `next_by_subj` (2.9 on); the client types it for
      // direct gets only (which a stream has to allow).
      const request = { seq, next_by_subj: this.names.subject } as unknown as MsgRequest;
      return await this.jsm.streams.getMessage(this.names.stream, request);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * The newest message held between `first` and `last`, by binary search (the server's
   * last-by-subject answers nothing when the last sequence's message is gone).
   */
  private async newestHeld(first: number, last: number): Promise<StoredMsg | null> {
    let newest: StoredMsg | null = null;
    let low = first;
    let high = last;
    while (low <= high) {
      const mid = Math.floor((low + high) / 2);
      const held = await this.nextHeld(mid);
      if (held === null || held.seq > high) {
        high = mid - 1;
      } else {
        newest = held;
        low = held.seq + 1;
      }
    }
    return newest;
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }
}

async function ensureStream(jsm: JetStreamManager, options: ResolvedPrimary): Promise<void> {
  const n = names(options.stream);
  const config = {
    name: n.stream,
    subjects: [n.subject],
    num_replicas: options.replicas,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: options.streamMaxAgeMs * 1_000_000,
    max_bytes: options.streamMaxBytes,
    max_msgs: options.streamMaxMessages,
    // The window in which a resent message id is dropped as a duplicate.
    duplicate_window: 2 * 60 * 1_000_000_000,
  };
  try {
    const info = await jsm.streams.info(n.stream);
    if (info.config.num_replicas !== options.replicas) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `the stream '${n.stream}' keeps ${info.config.num_replicas} replicas, not the ${options.replicas} asked for; open with replicas: ${info.config.num_replicas} (or change the stream with the nats tool)`,
      );
    }
    return;
  } catch (error) {
    if (error instanceof WalError) throw error;
    if (!(error instanceof JetStreamApiError) || error.status !== 404) throw error;
  }
  await jsm.streams.add(config);
}

/**
 * The stream's replicas refused because the cluster cannot hold that many copies: the
 * server is not clustered, or it lists fewer servers than `replicas` (the servers routed
 * to it now, as its INFO tells clients). No retry mends either. Null for anything else,
 * including "no suitable peers" with enough servers listed (one missed heartbeats: that
 * passes).
 */
function tooFewServers(error: unknown, replicas: number, nc: NatsConnection): WalError | null {
  if (!(error instanceof JetStreamApiError)) return null;
  const most = (servers: number) => [5, 3, 1].find((r) => r <= servers) ?? 1;
  if (error.code === REPLICAS_NOT_CLUSTERED) {
    return new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `options.replicas is ${replicas}, but the NATS server at ${nc.getServer()} is not clustered and keeps one copy (${describe(error)}); use replicas: 1, or run a cluster of ${replicas} servers`,
      { cause: error, details: { replicas, servers: 1 } },
    );
  }
  const listed = nc.info?.connect_urls;
  if (error.code !== NO_SUITABLE_PEERS || listed === undefined || listed.length >= replicas) {
    return null;
  }
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `options.replicas is ${replicas}, but the cluster has ${listed.length} server${listed.length === 1 ? '' : 's'} up (${listed.join(', ')}) and JetStream cannot place ${replicas} copies (${describe(error)}); use replicas: ${most(listed.length)}, or start the cluster's missing servers first`,
    { cause: error, details: { replicas, servers: listed.length } },
  );
}

export function describe(error: unknown): string {
  if (error instanceof JetStreamApiError) return `${error.message} (JetStream error ${error.code})`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE;
}

export function isWrongLastMsgId(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === WRONG_LAST_MSG_ID;
}

/** A refusal of a publish's expectation: an answer about the stream's end, not an outage. */
export function isRefusedExpectation(error: unknown): boolean {
  return isWrongLastSequence(error) || isWrongLastMsgId(error);
}
