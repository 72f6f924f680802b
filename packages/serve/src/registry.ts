import type { CreateOptions, StreamConfig, StreamInfo, Streams } from '@walnut/streams';
import { HttpError, notFound } from './errors.js';

/**
 * The serve layer's keys in a stream's metadata (kept by the core in the stream's create
 * record, so they are as durable as the stream).
 */
export const META = {
  ttl: 'ttlSeconds',
  expiresAt: 'expiresAtMs',
  /** A fork: the core name of its source, and the offset where its own records begin. */
  source: 'forkSource',
  base: 'forkBase',
  /** A fork's request as made (for the 200/409 of a repeated PUT). */
  forkOffset: 'forkOffset',
  forkSub: 'forkSubOffset',
} as const;

/**
 * Core stream names under this prefix are the server's own: a soft-deleted stream's
 * marker. No request path maps to them (`checkName`).
 */
const RESERVED = '.walnut/';
const SOFT_DELETED = `${RESERVED}soft-deleted/`;

/** A stream as the protocol sees it: a core stream, and for a fork the source below it. */
export interface View {
  readonly name: string;
  readonly info: StreamInfo;
  /** Logical offset of the core stream's record 0 (0 unless a fork). */
  readonly base: number;
  /** A fork's source (its core name). */
  readonly source: string | undefined;
  /** Logical tail: the offset the next record gets. */
  readonly tail: number;
  readonly contentType: string;
  readonly ttl: number | undefined;
  readonly expiresAt: number | undefined;
}

interface Live {
  /** When a read last restarted a `Stream-TTL` countdown (writes keep theirs in the core). */
  touched: number;
}

/** A read's countdown restart is written to the log when the last one written is this old. */
const TOUCH_WRITE_MS = 1000;

/**
 * Stream lookups for the handler: expiry, forks and soft deletes are the serve layer's. The
 * protocol's `Stream-TTL` slides (each read or write restarts it) and an expired source of
 * live forks must keep its records for them, so neither is the core's absolute expiry: a
 * stream that ran out is deleted (or soft-deleted) when next asked for. A countdown
 * survives restarts: an append's record keeps its time (the core's `touchedAt`), and any
 * other use writes a touch record when the last one written is over a second old, so a restart can
 * shorten a stream's life by at most about that second (decision 0715).
 */
export class Registry {
  private readonly live = new Map<number, Live>();
  /** source core name → the forks reading it. */
  private readonly forks = new Map<string, Set<string>>();

  constructor(
    readonly streams: Streams,
    private readonly now: () => number,
  ) {
    for (const name of streams.list()) {
      if (name.startsWith(RESERVED)) continue;
      const source = streams.metadata(name).metadata[META.source];
      if (source !== undefined) this.link(source, name);
    }
  }

  /**
   * The stream at a request path, or 404 (none, or expired), or 410 (soft-deleted).
   * `touch`: this request restarts a TTL countdown (HEAD does not).
   */
  async find(name: string, path: string, touch: boolean): Promise<View> {
    const view = this.view(name);
    if (view === undefined) throw notFound(path);
    if (this.softDeleted(name)) throw gone(path);
    if (this.expired(view)) {
      await this.drop(name);
      throw this.softDeleted(name) ? gone(path) : notFound(path);
    }
    if (touch) this.used(view, false);
    return view;
  }

  /**
   * Restarts the TTL countdown of a stream a request used. `stamped`: the request wrote a
   * record that carries its time (an append); else a touch record is written when the last
   * time written is over a second old.
   */
  used(view: View, stamped: boolean): void {
    if (view.ttl === undefined) return;
    const now = this.now();
    this.stateOf(view.info).touched = now;
    if (stamped || now - view.info.touchedAt < TOUCH_WRITE_MS) return;
    // Not awaited: the request need not wait for it; a failed one only shortens the life.
    this.streams.touch(view.name).catch(() => {});
  }

  /** The view of a core stream, expired or not; undefined if it does not exist. */
  view(name: string): View | undefined {
    let info: StreamInfo;
    try {
      info = this.streams.metadata(name);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'WAL_STREAM_NOT_FOUND' || code === 'WAL_STREAM_EXPIRED') return undefined;
      throw error;
    }
    const m = info.metadata;
    const base = m[META.base] === undefined ? 0 : Number(m[META.base]);
    return {
      name,
      info,
      base,
      source: m[META.source],
      tail: base + info.tail,
      contentType: info.contentType ?? 'application/octet-stream',
      ttl: m[META.ttl] === undefined ? undefined : Number(m[META.ttl]),
      expiresAt: m[META.expiresAt] === undefined ? undefined : Number(m[META.expiresAt]),
    };
  }

  softDeleted(name: string): boolean {
    // Asked on every request and almost always false: `has` builds no error for the answer.
    return this.streams.has(SOFT_DELETED + name);
  }

  private expired(view: View): boolean {
    const now = this.now();
    if (view.expiresAt !== undefined && now >= view.expiresAt) return true;
    if (view.ttl === undefined) return false;
    const touched = Math.max(view.info.touchedAt, this.stateOf(view.info).touched);
    return now - touched >= view.ttl * 1000;
  }

  /** Creates a stream; a fork is linked to its source until it is deleted. */
  async create(name: string, config: StreamConfig, initial: CreateOptions = {}) {
    const made = await this.streams.create(name, config, initial);
    const source = made.info.metadata[META.source];
    if (made.created && source !== undefined) this.link(source, name);
    return made;
  }

  /**
   * Deletes stream `name`. With live forks it is soft-deleted instead (a marker stream,
   * durable like any other): 410 from now on, its records kept for the forks. Deleting a
   * fork deletes the soft-deleted sources nothing reads any more, down the chain.
   */
  async drop(name: string): Promise<void> {
    if ((this.forks.get(name)?.size ?? 0) > 0) {
      await this.streams.create(SOFT_DELETED + name);
      return;
    }
    const view = this.view(name);
    await this.streams.delete(name);
    await this.streams.delete(SOFT_DELETED + name);
    if (view !== undefined) this.live.delete(view.info.id);
    const source = view?.source;
    if (source === undefined) return;
    const readers = this.forks.get(source);
    readers?.delete(name);
    if (readers?.size === 0) {
      this.forks.delete(source);
      if (this.softDeleted(source)) await this.drop(source);
    }
  }

  private link(source: string, fork: string): void {
    let readers = this.forks.get(source);
    if (readers === undefined) {
      readers = new Set();
      this.forks.set(source, readers);
    }
    readers.add(fork);
  }

  stateOf(info: StreamInfo): Live {
    let state = this.live.get(info.id);
    if (state === undefined) {
      state = { touched: info.touchedAt };
      this.live.set(info.id, state);
    }
    return state;
  }
}

/** A request path's stream name: never one of the server's own. */
export function checkName(name: string): void {
  if (name.startsWith(RESERVED)) {
    throw new HttpError(400, `stream paths starting with ${RESERVED} are reserved by the server`);
  }
}

const gone = (path: string) =>
  new HttpError(410, `stream ${path} was deleted; its forks still read its records`);
