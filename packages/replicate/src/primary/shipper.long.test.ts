import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  type ClusterLink,
  type Expected,
  WRONG_LAST_MSG_ID,
  WRONG_LAST_SEQUENCE,
} from '../cluster/link.js';
import {
  decodeHeader,
  decodeMessage,
  encodeEpochMessage,
  encodeRecordsMessage,
  messageCrc,
} from '../cluster/message.js';
import { LINGER_MS, Shipper } from './shipper.js';

/** What one publish does, in the order they come: store and answer, or fail around storing. */
type Outcome = 'ok' | 'lost' | 'stored-unanswered' | 'other-content' | 'stored-over-fork';

interface Publish {
  readonly body: Buffer;
  readonly id: string;
  readonly expected: number;
  /** The last message id it required (null: none). */
  readonly expectedId: string | null;
}

/**
 * A stream as JetStream keeps one, in memory: expected last sequence, a duplicate window
 * over message ids, and publishes that fail as the script says — before storing ('lost')
 * or after ('stored-unanswered', a timeout whose message was stored nonetheless).
 */
class ScriptedStream {
  readonly messages: Buffer[] = [encodeEpochMessage(1, 0n)];
  /** Each message's id, parallel to `messages`. */
  private readonly idAt: string[] = ['marker'];
  readonly publishes: Publish[] = [];
  private readonly ids = new Map<string, number>();
  readonly names = { stream: 'orders' };

  /**
   * The server lost its memory of the last message's id (2.9.10 after a restart past the
   * duplicate window, or on a copy caught up by snapshot): it refuses every expected id
   * until a message is stored.
   */
  forgotLastId = false;

  /** Reads of the last position answered from this many messages back (a deposed leader). */
  staleReads = 0;
  staleBy = 0;

  /** The servers holding a copy; one server by default, as the tests before step-downs. */
  servers = ['n1'];
  leader = 'n1';
  /**
   * Servers whose copy stopped `staleBy` messages back while reported current (nats-server
   * 2.9.10): while one of them leads, reads answer from it.
   */
  readonly shortOn = new Set<string>();
  /** The leaders asked to step down, in order. */
  readonly steppedDown: string[] = [];

  /** While set, publishes made are answered only once it resolves (`release`). */
  private held: Promise<void> | null = null;
  private releaseHeld = (): void => undefined;

  constructor(private readonly script: Outcome[]) {}

  /** Publishes from now on go unanswered until `release` (a round trip in progress). */
  hold(): void {
    this.held = new Promise((resolve) => {
      this.releaseHeld = resolve;
    });
  }

  release(): void {
    this.held = null;
    this.releaseHeld();
  }

  async publish(body: Buffer, id: string, expect: Expected): Promise<PubAck> {
    const expected = expect.seq;
    this.publishes.push({ body: Buffer.from(body), id, expected, expectedId: expect.id });
    const outcome = this.script.shift() ?? 'ok';
    await (this.held ?? Promise.resolve());
    if (outcome === 'lost') throw new Error('TimeoutError: timeout');
    if (outcome === 'other-content') {
      // The replica that leads next kept another content at this sequence (issue #38).
      const sent = decodeMessage(body, 'sent');
      const other = sent.records.map((r) => ({ payload: Buffer.concat([r.payload, r.payload]) }));
      this.messages.push(encodeRecordsMessage(sent.epoch, sent.firstLsn, other));
      this.idAt.push('other');
      throw new Error('TimeoutError: timeout');
    }
    // The copy that leads next holds another content under this message (seed 7878): it
    // kept the last id in memory, so the publish chained on it is stored all the same.
    if (outcome === 'stored-over-fork') this.forkAt(this.messages.length);
    const known = this.ids.get(id);
    let seq: number;
    if (known !== undefined) {
      seq = known;
    } else {
      if (expected !== this.messages.length) {
        throw new JetStreamApiError({
          code: 400,
          err_code: WRONG_LAST_SEQUENCE,
          description: `wrong last sequence: ${this.messages.length}`,
        });
      }
      const lastId = this.forgotLastId ? '' : this.idAt[this.idAt.length - 1];
      if (expect.id !== null && expect.id !== lastId) {
        throw new JetStreamApiError({
          code: 400,
          err_code: WRONG_LAST_MSG_ID,
          description: `wrong last msg ID: ${lastId}`,
        });
      }
      this.forgotLastId = false;
      this.messages.push(Buffer.from(body));
      this.idAt.push(id);
      seq = this.messages.length;
      this.ids.set(id, seq);
    }
    if (outcome === 'stored-unanswered' || outcome === 'stored-over-fork') {
      throw new Error('TimeoutError: timeout');
    }
    return { seq, duplicate: known !== undefined, stream: 'orders', domain: '' } as PubAck;
  }

  /** The message at `seq` becomes another content, its id kept (a forked copy leads). */
  forkAt(seq: number): void {
    const held = decodeMessage(this.messages[seq - 1]!, 'held');
    const other = held.records.map((r) => ({ payload: Buffer.concat([r.payload, r.payload]) }));
    this.messages[seq - 1] = encodeRecordsMessage(held.epoch, held.firstLsn, other);
  }

  async messageAt(seq: number): Promise<Buffer | null> {
    return this.messages[seq - 1] ?? null;
  }

  async leadership() {
    return { leader: this.leader, servers: [...this.servers] };
  }

  /** The next server leads. */
  async stepDown(leader: string) {
    this.steppedDown.push(leader);
    this.leader = this.servers[(this.servers.indexOf(leader) + 1) % this.servers.length]!;
    return true;
  }

  async lastPosition() {
    const stale = this.staleReads-- > 0 || this.shortOn.has(this.leader);
    const seq = this.messages.length - (stale ? this.staleBy : 0);
    const last = this.messages[seq - 1]!;
    return {
      seq,
      header: decodeHeader(last, 'last'),
      crc: messageCrc(last),
      id: this.idAt[seq - 1]!,
    };
  }

  /** Every LSN the stream holds, in stream order, with its payload's first byte. */
  lsns(): bigint[] {
    return this.messages.flatMap((m) => decodeMessage(m, 'm').records.map((r) => r.lsn));
  }
}

/** The LSN range of each message published, in order. */
function ranges(stream: ScriptedStream): [bigint, bigint][] {
  return stream.publishes.map((p) => {
    const header = decodeHeader(p.body, 'sent');
    return [header.firstLsn, header.lastLsn];
  });
}

function record(i: number) {
  return { payload: Buffer.from([i & 0xff, (i >> 8) & 0xff, 7]) };
}

/** Pushes `count` records in turns of `perTurn`, then waits until all are replicated. */
async function ship(
  stream: ScriptedStream,
  count: number,
  perTurn: number,
  {
    onRegressed = async () => {
      throw new Error('not expected here');
    },
    coalesce = false,
    maxMessageBytes = 200,
    pushed = () => undefined,
  }: {
    onRegressed?: () => Promise<null>;
    coalesce?: boolean;
    maxMessageBytes?: number;
    /** Called once every record is pushed, before waiting for them to be replicated. */
    pushed?: () => void;
  } = {},
) {
  const replicated: bigint[] = [];
  const diverged: string[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const shipper = new Shipper(
    stream as unknown as ClusterLink,
    1,
    { maxInFlight: 4, maxMessageBytes, coalesce },
    { replicatedLsn: 0n, streamSeq: 1, lastId: 'marker', lastCrc: null },
    {
      onReplicated: (lsn) => {
        replicated.push(lsn);
        if (lsn === BigInt(count)) resolveDone();
      },
      onFenced: () => undefined,
      ownReseed: () => null,
      onDiverged: (reason) => {
        diverged.push(reason);
        resolveDone();
      },
      onRegressed,
      readLog: async () => [],
    },
  );
  for (let i = 1; i <= count; i++) {
    shipper.push(BigInt(i), record(i));
    if (i % perTurn === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  pushed();
  const deadline = setTimeout(resolveDone, 20_000);
  await done;
  clearTimeout(deadline);
  await shipper.stop();
  return { shipper, replicated, diverged };
}

describe('the shipper', () => {
  it('sends a message whose answer was lost again byte for byte: same id, same expected sequence', async () => {
    // The second message times out unstored (as on a cut-off leader); more records are
    // queued meanwhile, so a regrouped resend would hold more under the same first LSN.
    const stream = new ScriptedStream(['ok', 'lost']);
    const { shipper } = await ship(stream, 40, 5);
    const second = stream.publishes[1]!;
    const again = stream.publishes.filter((p) => p.id === second.id);
    expect(again.length).toBeGreaterThan(1);
    for (const p of again) {
      expect(p.body.equals(second.body)).toBe(true);
      expect(p.expected).toBe(second.expected);
    }
    expect(shipper.counters.resent).toBeGreaterThan(0);
    expect(stream.lsns()).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
  });

  it('chains every message on the id of the one before it', async () => {
    const stream = new ScriptedStream([]);
    await ship(stream, 20, 5);
    expect(stream.publishes[0]!.expectedId).toBe('marker');
    for (let i = 1; i < stream.publishes.length; i++) {
      expect(stream.publishes[i]!.expectedId).toBe(stream.publishes[i - 1]!.id);
    }
  });

  it('when the server forgot the last id the stream does end with, sends one message on the sequence alone', async () => {
    const stream = new ScriptedStream([]);
    stream.forgotLastId = true;
    const { shipper } = await ship(stream, 20, 5);
    expect(stream.lsns()).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    const stored = stream.publishes.filter((p) => p.expectedId === null);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.expected).toBe(1);
    expect(shipper.counters.reconciles).toBe(1);
  });

  it('does not send again what the stream stored though its answer was lost', async () => {
    const stream = new ScriptedStream(['ok', 'stored-unanswered']);
    const { shipper } = await ship(stream, 20, 5);
    const second = stream.publishes[1]!;
    expect(stream.publishes.filter((p) => p.id === second.id)).toHaveLength(1);
    expect(shipper.counters.resent).toBe(0);
    expect(stream.lsns()).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
  });

  it('stops and reports no more replicated when the stream holds another content where it sent one', async () => {
    const stream = new ScriptedStream(['ok', 'other-content']);
    const { shipper, diverged } = await ship(stream, 20, 5);
    const first = decodeMessage(stream.publishes[0]!.body, 'first');
    expect(shipper.replicatedLsn).toBe(first.lastLsn);
    expect(diverged).toHaveLength(1);
    expect(diverged[0]).toContain('a replica of the stream disagrees with the log');
    expect(shipper.counters.diverged).toBe(diverged[0]);
  });

  it('stops and reports a fork when its message was stored over another content than the one it followed', async () => {
    const stream = new ScriptedStream(['ok', 'ok', 'stored-over-fork']);
    const { shipper, diverged } = await ship(stream, 30, 5);
    expect(diverged).toHaveLength(1);
    expect(diverged[0]).toContain("the servers' copies of the stream forked there");
    // The message stored over the fork counts for nothing; the one the fork replaced had
    // been acknowledged already, which the report is for.
    expect(shipper.replicatedLsn).toBe(decodeHeader(stream.publishes[1]!.body, 'second').lastLsn);
  }, 30_000);

  it('when idle, finds a fork under the last message it stored, and stops', async () => {
    const stream = new ScriptedStream([]);
    const diverged: string[] = [];
    const shipper = new Shipper(
      stream as unknown as ClusterLink,
      1,
      { maxInFlight: 4, maxMessageBytes: 200, coalesce: false },
      { replicatedLsn: 0n, streamSeq: 1, lastId: 'marker', lastCrc: null },
      {
        onReplicated: () => undefined,
        onFenced: () => undefined,
        ownReseed: () => null,
        onDiverged: (reason) => diverged.push(reason),
        onRegressed: async () => null,
        readLog: async () => [],
      },
    );
    for (let i = 1; i <= 10; i++) {
      shipper.push(BigInt(i), record(i));
      if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await vi.waitFor(() => expect(shipper.replicatedLsn).toBe(10n));
    stream.forkAt(stream.messages.length - 1);
    await vi.waitFor(() => expect(diverged).toHaveLength(1), { timeout: 15_000, interval: 100 });
    await shipper.stop();
  }, 30_000);

  it('goes on where it was when a stale answer did not hold and the re-seed failed', async () => {
    // The stream answers from two messages back for three reads (a cut-off leader that has
    // not stepped down); the re-seed it then asks for fails (its marker refused).
    const stream = new ScriptedStream(['ok', 'ok', 'ok', 'lost']);
    stream.staleReads = 3;
    stream.staleBy = 2;
    let asked = 0;
    const { shipper, diverged } = await ship(stream, 30, 5, {
      onRegressed: async () => {
        asked++;
        throw new Error('the marker was refused');
      },
    });
    expect(asked).toBe(1);
    expect(diverged).toEqual([]);
    expect(shipper.replicatedLsn).toBe(30n);
    expect(stream.lsns()).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
  }, 30_000);

  it('takes a refused re-seed marker as proof the read was stale, and confirms anew before asking again', async () => {
    // Six stale reads: three to confirm and ask, the refusal, three more to confirm and ask.
    const stream = new ScriptedStream(['ok', 'ok', 'ok', 'lost']);
    stream.staleReads = 6;
    stream.staleBy = 2;
    let asked = 0;
    const { shipper, diverged } = await ship(stream, 30, 5, {
      onRegressed: async () => {
        asked++;
        throw new JetStreamApiError({
          code: 400,
          err_code: WRONG_LAST_SEQUENCE,
          description: `wrong last sequence: ${stream.messages.length}`,
        });
      },
    });
    expect(asked).toBe(2);
    expect(shipper.counters.staleReads).toBe(2);
    expect(shipper.counters.reseeds).toBe(0);
    expect(diverged).toEqual([]);
    expect(stream.lsns()).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
  }, 30_000);

  it('has a leader serving the stream short step down, and does not re-seed while another server holds it whole', async () => {
    const stream = new ScriptedStream(['ok', 'ok', 'ok', 'lost']);
    stream.servers = ['n1', 'n2', 'n3'];
    stream.shortOn.add('n1');
    stream.staleBy = 2;
    let asked = 0;
    const { shipper, diverged } = await ship(stream, 30, 5, {
      onRegressed: async () => {
        asked++;
        throw new Error('not expected here');
      },
    });
    expect(stream.steppedDown).toEqual(['n1']);
    expect(asked).toBe(0);
    expect(shipper.counters.stepDowns).toBe(1);
    expect(diverged).toEqual([]);
    expect(stream.lsns()).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
  }, 30_000);

  it('re-seeds a stream every server serves short, after each server had its turn to lead', async () => {
    const stream = new ScriptedStream(['ok', 'ok', 'ok', 'lost']);
    stream.servers = ['n1', 'n2', 'n3'];
    for (const server of stream.servers) stream.shortOn.add(server);
    stream.staleBy = 2;
    let asked = 0;
    const { diverged } = await ship(stream, 30, 5, {
      onRegressed: async () => {
        asked++;
        // The servers caught up meanwhile: the re-seed's marker is refused.
        stream.shortOn.clear();
        throw new Error('the marker was refused');
      },
    });
    expect(stream.steppedDown).toEqual(['n1', 'n2']);
    expect(asked).toBe(1);
    expect(diverged).toEqual([]);
    expect(stream.lsns()).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
  }, 60_000);

  it('coalescing, holds a message that is not full for LINGER_MS, then sends what accumulated as one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const stream = new ScriptedStream([]);
      let beforeLinger = -1;
      await ship(stream, 40, 1, {
        coalesce: true,
        maxMessageBytes: 10_000,
        pushed: () => {
          beforeLinger = stream.publishes.length;
          vi.advanceTimersByTime(LINGER_MS);
        },
      });
      expect(beforeLinger).toBe(0);
      expect(ranges(stream)).toEqual([[1n, 40n]]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('coalescing, sends each full message at once, so they still pipeline', async () => {
    // 200 bytes hold 5 of these records: four full messages go while the first is held,
    // and the linger never ends (its timer is not advanced).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const stream = new ScriptedStream([]);
      stream.hold();
      let whileHeld = 0;
      await ship(stream, 40, 1, {
        coalesce: true,
        pushed: () => {
          whileHeld = stream.publishes.length;
          stream.release();
        },
      });
      expect(whileHeld).toBe(4);
      expect(ranges(stream).map(([first, last]) => Number(last - first) + 1)).toEqual([
        5, 5, 5, 5, 5, 5, 5, 5,
      ]);
      expect(stream.lsns()).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
    } finally {
      vi.useRealTimers();
    }
  });

  it('without coalescing, sends the records of each turn at once, up to maxInFlight', async () => {
    const stream = new ScriptedStream([]);
    stream.hold();
    await ship(stream, 12, 1, { maxMessageBytes: 10_000, pushed: () => stream.release() });
    expect(ranges(stream).slice(0, 4)).toEqual([
      [1n, 1n],
      [2n, 2n],
      [3n, 3n],
      [4n, 4n],
    ]);
  });

  it('never publishes two contents under one id, and the stream ends holding each LSN once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'lost', 'stored-unanswered'), {
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        async (script, count, perTurn, coalesce) => {
          // Failures are bounded (each costs a backoff pause); the rest of the run succeeds.
          const failures = script.filter((o) => o !== 'ok').length;
          fc.pre(failures <= 3);
          const stream = new ScriptedStream([...script]);
          const { shipper, replicated, diverged } = await ship(stream, count, perTurn, {
            coalesce,
          });
          expect(diverged).toEqual([]);
          const contents = new Map<string, Buffer>();
          for (const p of stream.publishes) {
            const seen = contents.get(p.id);
            if (seen !== undefined) expect(p.body.equals(seen)).toBe(true);
            contents.set(p.id, p.body);
          }
          expect(stream.lsns()).toEqual(Array.from({ length: count }, (_, i) => BigInt(i + 1)));
          // Reported replicated only as the stream came to hold it, never going back.
          expect(replicated).toEqual([...replicated].sort((a, b) => (a < b ? -1 : 1)));
          expect(shipper.replicatedLsn).toBe(BigInt(count));
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
