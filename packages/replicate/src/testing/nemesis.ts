import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isWalError, Wal } from '@walnut/wal';
import { Follower } from '../follower.js';
import { decodeMessage, MessageKind, RESEED_FLAG } from '../message.js';
import { ReplicatedWal } from '../replicated-wal.js';
import { NatsCluster, sleep, TcpProxy } from './nats-cluster.js';
import { readStreamCopy } from './stream-files.js';

/** The faults the nemesis injects into a 3-node cluster while producers append. */
export const FAULT_KINDS = [
  'kill-leader',
  'kill-follower',
  'kill-all',
  'stop-cont',
  'partition-leader',
  'quorum-loss',
  'power-loss',
  'promote-partitioned',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface NemesisOptions {
  readonly faults: number;
  readonly seed: number;
  /** Where the primary's and the checking followers' logs go. */
  readonly workDir: string;
  readonly mode?: 'sync' | 'async';
  readonly producers?: number;
  readonly recordSize?: number;
  /** Faults between two full checks (a fresh follower and every replica's copy); default 5. */
  readonly checkEvery?: number;
  /** Longest time a fault lasts, ms (each draws a time up to it); default 6000. */
  readonly maxFaultMs?: number;
  /** Appends started per second by all producers together (bounds the log's growth); default 500. */
  readonly appendsPerSecond?: number;
  readonly progress?: (line: string) => void;
  /** The kinds drawn from (default: all but 'power-loss', which needs `powerLoss`). */
  readonly kinds?: readonly FaultKind[];
  /**
   * A power cut of every server: the servers' stores are on a file system that drops what
   * no fsync covered; `storeDirs` are where they are mounted, and `cut()` (called with every
   * server killed) cuts the power and brings the file systems back with what survived.
   */
  readonly powerLoss?: {
    readonly storeDirs: readonly string[];
    cut(): Promise<void>;
    /**
     * Makes everything the stores hold durable (a clean unmount and mount), called with
     * every server killed: half the power cuts then strike stores that already hold data,
     * so the stream comes back shorter rather than gone (nats-server never fsyncs a
     * directory, so a store created since the last mount never survives a cut).
     */
    settle?(): Promise<void>;
  };
}

export interface NemesisReport {
  readonly faults: Record<FaultKind, number>;
  /** Per kind, the longest time without an acknowledgement around each fault, ms. */
  readonly stallsMs: Record<FaultKind, number[]>;
  readonly acknowledged: number;
  /** Acknowledged records missing or different on a fresh follower or the primary's log. */
  readonly acknowledgedLost: number;
  /** Sequences where the servers' own copies of the stream disagree, unreported by Walnut. */
  readonly silentDivergences: number;
  /** Divergences Walnut reported (primary `WAL_DIVERGED`, a follower that stopped). */
  readonly reportedDivergences: number;
  /** Times the primary found the stream gone back and re-seeded it (after power losses). */
  readonly reseeds: number;
  /** Re-seeds not done because the cluster refused the marker: a read came from a stale copy. */
  readonly staleReads: number;
  /** Appends refused, by error code (not acknowledged, so never counted as lost). */
  readonly refused: Record<string, number>;
  readonly checks: number;
  /** Messages read from the servers' own copies of the stream and compared, over all checks. */
  readonly replicaMessagesCompared: number;
  /**
   * Sequences at which the servers' copies hold different messages while each copy agrees
   * with the log (JetStream's replicas numbering the log differently), over all checks.
   */
  readonly replicaSequenceMismatches: number;
  /** What each broken invariant was, for the post-mortem. */
  readonly findings: string[];
}

/** The payload of append `i`: its number and bytes seeded from it, so any copy can be checked. */
export function nemesisPayload(i: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(i, 0);
  for (let j = 4; j < size; j++) buf[j] = (i * 131 + j * 17) & 0xff;
  return buf;
}

/** A small seeded generator (mulberry32): the same seed, the same faults. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STREAM = 'nemesis';

/**
 * A fresh follower for a check, opened once the healed cluster answers: right after a fault
 * a meta-leader election can refuse setup ("JetStream system temporarily unavailable") for
 * longer than Follower.open's own retries on a loaded machine. What the check is about is
 * the data, so setup refusals (WAL_IO) are retried for up to a minute, and said.
 */
async function openFollowerWhenReady(
  dir: string,
  servers: string[],
  progress: (line: string) => void,
  connection: { ignoreClusterUpdates?: boolean } = {},
): Promise<Follower> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      return await Follower.open(dir, { servers, stream: STREAM, connection });
    } catch (error) {
      if (!isWalError(error, 'WAL_IO') || performance.now() > deadline) throw error;
      progress(`check: follower setup refused, retrying: ${error.message}`);
      await sleep(1_000);
    }
  }
}

/**
 * Runs `faults` faults against a 3-node nats-server cluster whose routes go through
 * proxies, while producers append to a primary, and checks after every few faults that
 * every acknowledged record is on a fresh follower — present, in order, with its bytes —
 * and that every server's own copy of the stream (read from its store on disk) agrees.
 * Every process it starts it stops, also on failure.
 */
export async function runNemesis(options: NemesisOptions): Promise<NemesisReport> {
  const rand = random(options.seed);
  const size = options.recordSize ?? 256;
  const producers = options.producers ?? 64;
  const checkEvery = options.checkEvery ?? 5;
  const maxFaultMs = options.maxFaultMs ?? 6_000;
  const progress = options.progress ?? (() => undefined);
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const stallsMs = Object.fromEntries(FAULT_KINDS.map((k) => [k, []])) as unknown as Record<
    FaultKind,
    number[]
  >;
  const refused: Record<string, number> = {};
  const findings: string[] = [];
  // LSN → the number of the append it acknowledged (a dense array: millions of entries).
  const acked: number[] = [];
  let ackedCount = 0;
  let acknowledgedLost = 0;
  let silentDivergences = 0;
  let reportedDivergences = 0;
  let checks = 0;
  let followers = 0;
  let reseeds = 0;
  let staleReads = 0;
  const tally = { messages: 0, sequenceMismatches: 0 };

  mkdirSync(options.workDir, { recursive: true });
  // A promotion loses what an async primary had not shipped, by design: sync runs only.
  const kinds =
    options.kinds ??
    FAULT_KINDS.filter(
      (k) =>
        (k !== 'power-loss' || options.powerLoss) &&
        (k !== 'promote-partitioned' || options.mode !== 'async'),
    );
  if (kinds.includes('power-loss') && options.powerLoss === undefined) {
    throw new Error("the 'power-loss' fault needs options.powerLoss");
  }
  const cluster = await NatsCluster.start({
    size: 3,
    routeProxies: true,
    ...(options.powerLoss ? { storeDirs: options.powerLoss.storeDirs } : {}),
  });
  let primary: ReplicatedWal | undefined;
  let standby: Follower | undefined;
  let stopProducers = false;
  const running: Promise<void>[] = [];
  // The primary and the standby each reach every server through proxies of their own, so
  // a promotion can stall the primary's links alone (bytes held, the process alive).
  const links: TcpProxy[][] = [];
  const newLink = async () => {
    const link = await Promise.all(cluster.nodes.map((n) => TcpProxy.start(n.spec.clientPort)));
    links.push(link);
    return { servers: link.map((proxy) => proxy.url), link };
  };
  const primaryOptions = {
    mode: options.mode ?? 'sync',
    requestTimeoutMs: 2_000,
    replicationTimeoutMs: 60_000,
  } as const;
  const connection = { ignoreClusterUpdates: true };
  let standbys = 0;
  const openStandby = async () => {
    const { servers, link } = await newLink();
    const dir = join(options.workDir, `standby-${++standbys}`);
    return { follower: await openFollowerWhenReady(dir, servers, progress, connection), link };
  };
  try {
    let primaryLink = await newLink();
    primary = await ReplicatedWal.open(join(options.workDir, 'primary'), {
      servers: primaryLink.servers,
      stream: STREAM,
      replicas: 3,
      connection,
      ...primaryOptions,
    });
    let p = primary;
    let standbyLink: TcpProxy[] = [];
    if (kinds.includes('promote-partitioned')) {
      ({ follower: standby, link: standbyLink } = await openStandby());
    }
    let next = 0;
    let lastAckAt = performance.now();
    let stall = 0;
    const perSecond = options.appendsPerSecond ?? 500;
    const began = performance.now();
    for (let k = 0; k < producers; k++) {
      running.push(
        (async () => {
          while (!stopProducers) {
            const i = next++;
            const due = began + (i * 1000) / perSecond - performance.now();
            if (due > 0) await sleep(due);
            const target = p;
            try {
              const lsn = await target.append(nemesisPayload(i, size));
              acked[Number(lsn)] = i;
              ackedCount++;
              const now = performance.now();
              if (now - lastAckAt > stall) stall = now - lastAckAt;
              lastAckAt = now;
            } catch (error) {
              const code = isWalError(error) ? error.code : String(error);
              refused[code] = (refused[code] ?? 0) + 1;
              if (isWalError(error, 'WAL_DIVERGED')) return;
              // Fenced by a promotion: the next append goes to the new primary.
              await sleep(50);
            }
          }
        })(),
      );
    }

    const check = async (final: boolean): Promise<void> => {
      checks++;
      // The cluster healed: everything acknowledged reaches the stream, and the servers
      // agree once the lagging ones caught up.
      const last = BigInt(acked.length - 1);
      await p.waitReplicated(last, 90_000).catch((error) => {
        findings.push(`check ${checks}: LSN ${last} not replicated: ${String(error)}`);
      });
      const diverged = p.stats().shipper.diverged;
      if (diverged !== null) reportedDivergences++;
      const dir = join(options.workDir, `follower-${++followers}`);
      const follower = await openFollowerWhenReady(dir, cluster.servers, progress);
      try {
        await follower.waitFor(last, 90_000);
      } catch (error) {
        if (isWalError(error, 'WAL_DIVERGED')) reportedDivergences++;
        findings.push(`check ${checks}: fresh follower: ${String(error)}`);
      } finally {
        await follower.close();
      }
      // Only what was acknowledged before the follower was told what to wait for.
      const upTo = Number(last);
      acknowledgedLost += await lostIn(
        dir,
        acked,
        upTo,
        size,
        `check ${checks} follower`,
        findings,
      );
      silentDivergences += await replicasDisagree(
        cluster,
        acked,
        size,
        checks,
        findings,
        diverged !== null,
        tally,
      );
      progress(
        `check ${checks}${final ? ' (final)' : ''}: ${ackedCount} acknowledged, ${acknowledgedLost} lost, ${silentDivergences} silent divergences`,
      );
    };

    for (let f = 0; f < options.faults; f++) {
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      const holdMs = 500 + Math.floor(rand() * (maxFaultMs - 500));
      const leaderName = await cluster.streamLeader(STREAM, 60_000).catch(() => 'n1');
      const leader = cluster.node(leaderName);
      const others = cluster.nodes.filter((n) => n !== leader);
      const other = others[Math.floor(rand() * others.length)]!;
      stall = 0;
      lastAckAt = performance.now();
      switch (kind) {
        case 'kill-leader':
          await leader.kill();
          await sleep(holdMs);
          await leader.start();
          break;
        case 'kill-follower':
          await other.kill();
          await sleep(holdMs);
          await other.start();
          break;
        case 'kill-all':
          await Promise.all(cluster.nodes.map((n) => n.kill()));
          await sleep(holdMs);
          await Promise.all(cluster.nodes.map((n) => n.start()));
          break;
        case 'stop-cont': {
          const target = rand() < 0.5 ? leader : other;
          target.process?.kill('SIGSTOP');
          await sleep(holdMs);
          target.process?.kill('SIGCONT');
          break;
        }
        case 'partition-leader':
          cluster.isolate(leaderName);
          await sleep(holdMs);
          cluster.healRoutes();
          break;
        case 'quorum-loss':
          await Promise.all(others.map((n) => n.kill()));
          await sleep(holdMs);
          await Promise.all(others.map((n) => n.start()));
          break;
        case 'power-loss':
          if (options.powerLoss!.settle && rand() < 0.5) {
            await Promise.all(cluster.nodes.map((n) => n.kill()));
            await options.powerLoss!.settle();
            await Promise.all(cluster.nodes.map((n) => n.start()));
            await sleep(holdMs);
          }
          await Promise.all(cluster.nodes.map((n) => n.kill()));
          await options.powerLoss!.cut();
          await sleep(holdMs);
          await Promise.all(cluster.nodes.map((n) => n.start()));
          break;
        case 'promote-partitioned': {
          // The primary's links stall (held, not closed); the standby is promoted a random
          // time later; the links heal a random time after that, delivering what the old
          // primary sent meanwhile right after the new epoch's marker.
          // Short enough that the old primary's connections outlive it (its pings time out
          // after two request timeouts, 4 s here): what it sent is delivered, not dropped.
          const old = p;
          for (const proxy of primaryLink.link) proxy.hold();
          await sleep(Math.floor((rand() * holdMs) / 3));
          try {
            p = await standby!.promote(primaryOptions);
          } catch (error) {
            for (const proxy of primaryLink.link) proxy.release();
            findings.push(`promote-partitioned: the promotion failed: ${String(error)}`);
            for (const proxy of standbyLink) await proxy.stop();
            ({ follower: standby, link: standbyLink } = await openStandby());
            break;
          }
          primary = p;
          await sleep(Math.floor(rand() * 500));
          for (const proxy of primaryLink.link) proxy.release();
          // Its counts end with it: the report sums them over every primary.
          reseeds += old.stats().shipper.reseeds;
          staleReads += old.stats().shipper.staleReads;
          await old.close().catch(() => undefined);
          for (const proxy of primaryLink.link) await proxy.stop();
          primaryLink = { servers: [], link: standbyLink };
          ({ follower: standby, link: standbyLink } = await openStandby());
          break;
        }
      }
      faults[kind]++;
      // The stall: the longest time without an acknowledgement from the fault until the
      // appends flow again (bounded).
      const deadline = performance.now() + 120_000;
      const ackedBefore = ackedCount;
      while (ackedCount === ackedBefore && performance.now() < deadline) await sleep(20);
      if (ackedCount === ackedBefore) {
        findings.push(`${kind}: no acknowledgement 120 s after`);
        stall = Math.max(stall, performance.now() - lastAckAt);
      }
      stallsMs[kind].push(Math.round(stall));
      const shipper = p.stats().shipper;
      progress(
        `fault ${f + 1}/${options.faults}: ${kind} ${holdMs} ms, stall ${Math.round(stall)} ms, ${ackedCount} acknowledged, ${reseeds + shipper.reseeds} re-seeds${shipper.regressed ? ` (last: ${shipper.regressed})` : ''}`,
      );
      if ((f + 1) % checkEvery === 0 || f + 1 === options.faults) await check(false);
    }
    stopProducers = true;
    await Promise.all(running);
    await check(true);
    reseeds += p.stats().shipper.reseeds;
    staleReads += p.stats().shipper.staleReads;
    await p.close();
    primary = undefined;
    acknowledgedLost += await lostIn(p.dir, acked, acked.length - 1, size, 'primary', findings);
  } finally {
    stopProducers = true;
    await Promise.allSettled(running);
    await primary?.close().catch(() => undefined);
    await standby?.close().catch(() => undefined);
    for (const link of links) for (const proxy of link) await proxy.stop().catch(() => undefined);
    for (const node of cluster.nodes) node.process?.kill('SIGCONT');
    await cluster.stop();
  }
  return {
    faults,
    stallsMs,
    acknowledged: ackedCount,
    acknowledgedLost,
    silentDivergences,
    reportedDivergences,
    reseeds,
    staleReads,
    refused,
    checks,
    replicaMessagesCompared: tally.messages,
    replicaSequenceMismatches: tally.sequenceMismatches,
    findings,
  };
}

/** Acknowledged records of `acked` up to LSN `upTo` missing from the log in `dir`, or with other bytes. */
async function lostIn(
  dir: string,
  acked: readonly number[],
  upTo: number,
  size: number,
  where: string,
  findings: string[],
): Promise<number> {
  const wal = await Wal.open(dir).storageIo('sync-fs').build();
  const seen = new Set<number>();
  try {
    await wal.replay(1n, (r) => {
      const i = acked[Number(r.lsn)];
      if (i !== undefined && Buffer.from(r.payload).equals(nemesisPayload(i, size))) {
        seen.add(Number(r.lsn));
      }
    });
  } finally {
    await wal.close();
  }
  let lost = 0;
  for (let lsn = 1; lsn <= upTo; lsn++) {
    if (acked[lsn] === undefined) continue;
    if (!seen.has(lsn)) {
      if (lost < 5) findings.push(`${where}: acknowledged LSN ${lsn} missing or different`);
      lost++;
    }
  }
  return lost;
}

/**
 * Reads every server's own copy of the stream from its store and checks it against the
 * log: each record's bytes are the append that got its LSN (acknowledged ones by number,
 * the others by their self-describing payload), copies agree LSN by LSN, and within a copy
 * each message follows on from the one before (going back only at a RESEED marker: a hole
 * or an overlap is a replica that lost or doubled records). Returns the disagreements,
 * counted silent unless Walnut reported one (`reported`). Copies that number the same
 * records with other sequences (JetStream's own replicas disagreeing while every copy
 * still agrees with the log) are counted in `tally.sequenceMismatches`, not as divergence.
 */
async function replicasDisagree(
  cluster: NatsCluster,
  acked: readonly number[],
  size: number,
  check: number,
  findings: string[],
  reported: boolean,
  tally: { messages: number; sequenceMismatches: number },
): Promise<number> {
  let copies: Map<number, Buffer>[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    copies = cluster.nodes.map((n) => readStreamCopy(n.spec.storeDir, STREAM));
    const lasts = copies.map((c) => {
      let last = 0;
      for (const seq of c.keys()) if (seq > last) last = seq;
      return last;
    });
    if (lasts.every((l) => l === lasts[0])) break;
    await sleep(500);
  }
  let bad = 0;
  const note = (what: string) => {
    bad++;
    if (bad <= 5) findings.push(`check ${check}: ${what}`);
  };
  const byLsn: number[] = [];
  for (const [n, copy] of copies.entries()) {
    const node = `n${n + 1}`;
    tally.messages += copy.size;
    let next: bigint | null = null;
    for (const seq of [...copy.keys()].sort((a, b) => a - b)) {
      const message = decodeMessage(copy.get(seq)!, `${node}#${seq}`);
      if (message.kind === MessageKind.EPOCH) {
        const reseed = (message.flags & RESEED_FLAG) !== 0;
        if (next !== null && (reseed ? message.firstLsn > next : message.firstLsn !== next)) {
          note(
            `${node}'s copy: the marker at sequence ${seq} begins at LSN ${message.firstLsn}, after LSN ${next - 1n}`,
          );
        }
        next = message.firstLsn;
        continue;
      }
      if (next !== null && message.firstLsn !== next) {
        note(
          `${node}'s copy ${message.firstLsn > next ? 'lacks' : 'repeats'} LSNs at sequence ${seq} (LSN ${message.firstLsn} where ${next} was next)`,
        );
      }
      next = message.lastLsn + 1n;
      for (const r of message.records) {
        const lsn = Number(r.lsn);
        const payload = Buffer.from(r.payload);
        const i = payload.length >= 4 ? payload.readUInt32LE(0) : -1;
        if (i < 0 || !payload.equals(nemesisPayload(i, size))) {
          note(`${node}'s copy holds bytes no append wrote at LSN ${lsn} (sequence ${seq})`);
        } else if (acked[lsn] !== undefined && acked[lsn] !== i) {
          note(
            `${node}'s copy holds append ${i} at LSN ${lsn}, acknowledged as append ${acked[lsn]}`,
          );
        } else if (byLsn[lsn] !== undefined && byLsn[lsn] !== i) {
          note(`the servers' copies hold appends ${byLsn[lsn]} and ${i} at LSN ${lsn}`);
        } else {
          byLsn[lsn] = i;
        }
      }
    }
  }
  const seqs = new Set<number>();
  for (const copy of copies) for (const seq of copy.keys()) seqs.add(seq);
  for (const seq of seqs) {
    const held = copies.map((c) => c.get(seq)).filter((b): b is Buffer => b !== undefined);
    if (held.length > 1 && !held.every((b) => b.equals(held[0]!))) tally.sequenceMismatches++;
  }
  return reported ? 0 : bad;
}
