import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isWalError } from '@walnut/wal';
import type { Follower } from '../follower/follower.js';
import { ReplicatedWal } from '../primary/replicated-wal.js';
import { DeposedLogs } from './deposed-logs.js';
import { NatsCluster, sleep } from './nats-cluster.js';
import { bookAck, lostIn, openFollowerWhenReady, replicasDisagree } from './nemesis-checks.js';
import {
  FAULT_KINDS,
  type FaultKind,
  injectServerFault,
  type PowerCut,
  random,
  restartExited,
} from './nemesis-faults.js';
import { nemesisPayload } from './nemesis-payload.js';
import { PausedPrimary } from './paused-primary.js';
import { TcpProxy } from './tcp-proxy.js';

/** How long appends may stall before the cluster is asked whether its JetStream answers. */
const OPERATOR_WAIT_MS = 60_000;
/** Fresh followers a check tries while each refuses a short copy, before counting losses. */
const SHORT_COPY_ATTEMPTS = 3;

export { FAULT_KINDS, type FaultKind };

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
  /** Ends the faults early (at the next fault's start); the final check and cleanup still run. */
  readonly signal?: AbortSignal;
  /** The kinds drawn from (default: all but 'power-loss', which needs `powerLoss`). */
  readonly kinds?: readonly FaultKind[];
  /**
   * A power cut of every server: the servers' stores are on a file system that drops what
   * no fsync covered; `storeDirs` are where they are mounted.
   */
  readonly powerLoss?: PowerCut & { readonly storeDirs: readonly string[] };
}

export interface NemesisReport {
  readonly faults: Record<FaultKind, number>;
  /** Per kind, the longest time without an acknowledgement around each fault, ms. */
  readonly stallsMs: Record<FaultKind, number[]>;
  readonly acknowledged: number;
  /** Acknowledged records missing or different on a fresh follower or the primary's log. */
  readonly acknowledgedLost: number;
  /**
   * LSNs acknowledged twice, to different appends (a primary that took over below records
   * another had acknowledged): each is a lost acknowledged record, a finding, though no
   * check can see it afterwards (`acknowledgedLost` compares with the later one).
   */
  readonly acknowledgedTwice: number;
  /**
   * Per server (n1, n2, n3), acknowledged records missing or different in its own copy of
   * the stream, summed over the checks.
   */
  readonly acknowledgedMissingOnReplica: readonly number[];
  /** Sequences where the servers' own copies of the stream disagree, unreported by Walnut. */
  readonly silentDivergences: number;
  /** Divergences Walnut reported (primary `WAL_DIVERGED`, a follower that stopped). */
  readonly reportedDivergences: number;
  /**
   * Fresh followers that refused a stream served short of its primary's mark
   * (`WAL_BAD_STATE`: a stale copy led it); each check then tries another fresh follower.
   */
  readonly shortCopiesReported: number;
  /** Times the primary found the stream gone back and re-seeded it (after power losses). */
  readonly reseeds: number;
  /** Re-seeds not done because the cluster refused the marker: a read came from a stale copy. */
  readonly staleReads: number;
  /** Times a primary had a leader serving its stream short step down (decision 0915). */
  readonly stepDowns: number;
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
  /**
   * Promotions refused because the cluster did not answer in time (`WAL_IO`), each followed
   * by one of a fresh standby: a safe refusal, counted here, not a broken invariant. A
   * promotion refused for anything else is a finding.
   */
  readonly promotionsUnanswered: number;
  /**
   * Servers that exited with no fault holding them down, each started again: what each
   * said last. Not a broken invariant of Walnut's, but the run keeps the stores for it.
   */
  readonly serverExits: string[];
  /** Servers that died twice the same way after a fault and were given an empty store (`restartExited`). */
  readonly storesReplaced: number;
  /**
   * Times the cluster was restarted server by server because, a minute into a stall, its
   * JetStream did not answer for the stream (no leader, or no answer): an operator's remedy
   * for the server, never for Walnut, whose stall is reported as it was.
   */
  readonly operatorRestarts: number;
  /** What each broken invariant was, for the post-mortem. */
  readonly findings: string[];
}

export { nemesisPayload };

const STREAM = 'nemesis';
/** The stream of the primary that 'stop-primary' stops, in a process of its own. */
const PAUSED_STREAM = 'nemesis-paused';

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
  const serverExits: string[] = [];
  let storesReplaced = 0;
  let operatorRestarts = 0;
  let findingsShown = 0;
  let promotionsUnanswered = 0;
  // LSN → the number of the append it acknowledged (a dense array: millions of entries).
  const acked: number[] = [];
  let ackedCount = 0;
  let acknowledgedLost = 0;
  let acknowledgedTwice = 0;
  let silentDivergences = 0;
  // Copies with a hole in their middle the fresh followers met and consumed past (0917).
  let holesMet = 0;
  const missingOnReplica = [0, 0, 0];
  let reportedDivergences = 0;
  let shortCopiesReported = 0;
  let checks = 0;
  let followers = 0;
  // A primary's counts end with it: the report sums them over every primary.
  const ended = { reseeds: 0, staleReads: 0, stepDowns: 0 };
  const addEnded = (counts: { reseeds: number; staleReads: number; stepDowns: number }) => {
    ended.reseeds += counts.reseeds;
    ended.staleReads += counts.staleReads;
    ended.stepDowns += counts.stepDowns;
  };
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
  let paused: PausedPrimary | undefined;
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
  const deposed = new DeposedLogs();
  const openStandby = async () => {
    const { servers, link } = await newLink();
    const dir = join(options.workDir, `standby-${++standbys}`);
    return {
      follower: await openFollowerWhenReady(dir, servers, STREAM, progress, connection),
      link,
    };
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
    const perSecond = options.appendsPerSecond ?? 500;
    if (kinds.includes('stop-primary')) {
      paused = await PausedPrimary.start({
        dir: join(options.workDir, 'paused-primary'),
        servers: cluster.servers,
        stream: PAUSED_STREAM,
        producers: 8,
        appendsPerSecond: Math.max(20, Math.floor(perSecond / 5)),
        recordSize: size,
      });
    }
    let next = 0;
    let lastAckAt = performance.now();
    let stall = 0;
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
              const before = bookAck(acked, Number(lsn), i);
              if (before !== undefined) {
                acknowledgedTwice++;
                findings.push(
                  `LSN ${lsn} was acknowledged as append ${before}, then as append ${i}: the first is lost`,
                );
              }
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

    /**
     * A fresh follower of `stream` holds every record acknowledged so far (`acked`), and so
     * does each server's own copy, all agreeing (`reported`: Walnut said it diverged).
     */
    const checkStream = async (
      stream: string,
      acked: readonly number[],
      reported: boolean,
    ): Promise<void> => {
      const last = acked.length - 1;
      let dir: string;
      for (let attempt = 1; ; attempt++) {
        dir = join(options.workDir, `follower-${++followers}`);
        let follower: Follower;
        try {
          follower = await openFollowerWhenReady(dir, cluster.servers, stream, progress);
        } catch (error) {
          // A cluster that stays without a quorum: a finding, and the run goes on to report.
          findings.push(`check ${checks}: no fresh follower of ${stream}: ${String(error)}`);
          return;
        }
        let shortCopy = false;
        try {
          await follower.waitFor(BigInt(Math.max(last, 0)), 90_000);
        } catch (error) {
          if (isWalError(error, 'WAL_DIVERGED')) reportedDivergences++;
          // Refused as the design says (the primary re-seeds once it notices): not a loss
          // unless the next followers, after the primary had its time, miss records too.
          shortCopy = isWalError(error, 'WAL_BAD_STATE') && attempt < SHORT_COPY_ATTEMPTS;
          if (shortCopy) {
            shortCopiesReported++;
            progress(
              `check ${checks}: fresh follower ${attempt} of ${stream} refused a short copy; another in 15 s: ${String(error)}`,
            );
          } else findings.push(`check ${checks}: fresh follower of ${stream}: ${String(error)}`);
        } finally {
          holesMet += follower.stats().holesMet;
          await follower.close();
        }
        if (!shortCopy) break;
        await sleep(15_000);
      }
      // Only what was acknowledged before the follower was told what to wait for.
      const where = `check ${checks} follower of ${stream}`;
      const lost = await lostIn(dir, acked, last, size, where, findings);
      acknowledgedLost += lost;
      // Each check's follower holds the whole log: kept only when it lacked something, so
      // a long run's work directory grows with the log, not with the log times the checks.
      if (lost === 0) rmSync(dir, { recursive: true, force: true });
      const replicas = await replicasDisagree(
        cluster,
        stream,
        acked,
        last,
        size,
        checks,
        findings,
        reported,
        tally,
      );
      silentDivergences += replicas.disagreements;
      for (const [n, missing] of replicas.missing.entries()) missingOnReplica[n]! += missing;
    };

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
      await checkStream(STREAM, acked, diverged !== null);
      if (paused !== undefined) {
        await checkStream(PAUSED_STREAM, paused.acked, paused.final?.diverged === true);
      }
      progress(
        `check ${checks}${final ? ' (final)' : ''}: ${ackedCount} acknowledged, ${acknowledgedLost} lost, missing on n1/n2/n3 ${missingOnReplica.join('/')}, ${silentDivergences} silent divergences, ${holesMet} holes consumed past`,
      );
      // As they come: a long run stopped early still shows what it found.
      for (const finding of findings.slice(findingsShown)) progress(`  ! ${finding}`);
      findingsShown = findings.length;
    };

    faultLoop: for (let f = 0; f < options.faults; f++) {
      if (options.signal?.aborted) {
        progress(
          `stopped after ${f} of ${options.faults} faults: ${String(options.signal.reason)}`,
        );
        break;
      }
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      const holdMs = 500 + Math.floor(rand() * (maxFaultMs - 500));
      const leaderName = await cluster.streamLeader(STREAM, 60_000).catch(() => 'n1');
      const leader = cluster.node(leaderName);
      const others = cluster.nodes.filter((n) => n !== leader);
      const other = others[Math.floor(rand() * others.length)]!;
      stall = 0;
      lastAckAt = performance.now();
      let pausedBefore = { count: 0, at: 0 };
      switch (kind) {
        case 'stop-primary':
          // The other primary, alone: its process frozen, its connections open.
          pausedBefore = { count: paused!.ackedCount, at: performance.now() };
          paused!.signal('SIGSTOP');
          await sleep(holdMs);
          paused!.signal('SIGCONT');
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
          // A failed promotion may have taken the lease, fencing the old primary: a fresh
          // standby is promoted instead. A cluster still electing its leaders (just after a
          // kill of every server) leaves promotions unanswered (WAL_IO) for a while: those
          // are tried again 2 s apart, up to 30 times. Three other failures end the faults,
          // not the run: the final check still runs and the report keeps what was seen.
          let refusals = 0;
          for (let attempt = 1; ; attempt++) {
            try {
              p = await standby!.promote(primaryOptions);
              break;
            } catch (error) {
              const unanswered = isWalError(error, 'WAL_IO');
              if (unanswered) promotionsUnanswered++;
              else {
                refusals++;
                findings.push(`promote-partitioned: promotion ${attempt} failed: ${String(error)}`);
              }
              // A refusal before anything was taken leaves the follower open.
              await standby!.close().catch(() => undefined);
              for (const proxy of standbyLink) await proxy.stop();
              ({ follower: standby, link: standbyLink } = await openStandby());
              if (refusals < 3 && attempt < 30) {
                if (unanswered) await sleep(2_000);
                continue;
              }
              findings.push(
                `promote-partitioned: ${attempt} promotions failed (${refusals} refused; last: ${String(error)}); the faults end at ${f + 1} of ${options.faults}`,
              );
              for (const proxy of primaryLink.link) proxy.release();
              break faultLoop;
            }
          }
          primary = p;
          await sleep(Math.floor(rand() * 500));
          for (const proxy of primaryLink.link) proxy.release();
          addEnded(old.stats().shipper);
          await old.close().catch(() => undefined);
          deposed.deposed(old.dir);
          for (const proxy of primaryLink.link) await proxy.stop();
          primaryLink = { servers: [], link: standbyLink };
          ({ follower: standby, link: standbyLink } = await openStandby());
          break;
        }
        default:
          await injectServerFault(kind, {
            cluster,
            leader,
            other,
            holdMs,
            rand,
            ...(options.powerLoss ? { powerLoss: options.powerLoss } : {}),
          });
          break;
      }
      faults[kind]++;
      // At most two restarts per server and fault, the second on an empty store (restartExited).
      const revived = new Map<string, number>();
      const revive = async () => {
        for (const { said, storeReplaced } of await restartExited(cluster, revived)) {
          serverExits.push(`after fault ${f + 1} (${kind}): ${said}`);
          if (storeReplaced) storesReplaced++;
          progress(`  ${kind}: ${said}`);
        }
      };
      await revive();
      // The stall: the longest time without an acknowledgement from the fault until the
      // appends flow again (bounded); of the stopped primary's, for 'stop-primary'.
      const deadline = performance.now() + 120_000;
      const ackedBefore = ackedCount;
      let toldAt = performance.now();
      let revivedAt = performance.now();
      let restartedAll = false;
      while (ackedCount === ackedBefore && performance.now() < deadline) {
        await sleep(20);
        if (performance.now() - revivedAt >= 1_000) {
          revivedAt = performance.now();
          await revive();
        }
        if (!restartedAll && performance.now() - lastAckAt >= OPERATOR_WAIT_MS) {
          restartedAll = true;
          const answer = await cluster.streamAnswer(STREAM);
          if (answer !== 'answers') {
            // What an operator does with a cluster whose JetStream stays unavailable: restart
            // it server by server. Walnut's appends are judged as before, stall included.
            progress(`  ${kind}: the cluster ${answer}; restarting its servers one by one`);
            await cluster.restartEach();
            operatorRestarts++;
          }
        }
        if (performance.now() - toldAt >= 30_000) {
          toldAt = performance.now();
          const s = p.stats().shipper;
          progress(
            `  ${kind}: nothing acknowledged for ${Math.round((toldAt - lastAckAt) / 1000)} s; the shipper: ${s.reconciles} reconciles, ${s.failedPublishes} failed publishes, ${s.staleReads} stale reads, last error: ${s.lastError ?? 'none'}`,
          );
        }
      }
      if (ackedCount === ackedBefore) {
        const { lastError, regressed } = p.stats().shipper;
        findings.push(
          `${kind}: no acknowledgement 120 s after (the shipper's last error: ${lastError ?? 'none'}; last went back: ${regressed ?? 'never'})`,
        );
        stall = Math.max(stall, performance.now() - lastAckAt);
      }
      if (kind === 'stop-primary') stall = await pausedStall(paused!, pausedBefore, findings);
      stallsMs[kind].push(Math.round(stall));
      const shipper = p.stats().shipper;
      progress(
        `fault ${f + 1}/${options.faults}: ${kind} ${holdMs} ms, stall ${Math.round(stall)} ms, ${ackedCount} acknowledged, ${ended.reseeds + shipper.reseeds} re-seeds, ${ended.stepDowns + shipper.stepDowns} step-downs${shipper.regressed ? ` (last: ${shipper.regressed})` : ''}`,
      );
      if ((f + 1) % checkEvery === 0 || f + 1 === options.faults) await check(false);
    }
    stopProducers = true;
    await Promise.all(running);
    if (paused !== undefined && !(await paused.stop())) {
      findings.push(`the stopped primary did not close cleanly: ${paused.errorOutput}`);
    }
    await check(true);
    if (paused !== undefined) {
      if (paused.final) addEnded(paused.final);
      for (const [code, count] of Object.entries(paused.refused)) {
        refused[code] = (refused[code] ?? 0) + count;
      }
      const last = paused.acked.length - 1;
      acknowledgedLost += await lostIn(
        paused.dir,
        paused.acked,
        last,
        size,
        'stopped primary',
        findings,
      );
    }
    addEnded(p.stats().shipper);
    await p.close();
    primary = undefined;
    acknowledgedLost += await lostIn(p.dir, acked, acked.length - 1, size, 'primary', findings);
  } finally {
    stopProducers = true;
    await Promise.allSettled(running);
    await primary?.close().catch(() => undefined);
    await standby?.close().catch(() => undefined);
    await paused?.stop();
    for (const link of links) for (const proxy of link) await proxy.stop().catch(() => undefined);
    for (const node of cluster.nodes) node.process?.kill('SIGCONT');
    // A run with findings keeps what each server held, and shows what they last said.
    const postMortem = findings.length > 0 || serverExits.length > 0;
    await cluster.stop({ keepStores: postMortem });
    if (postMortem) {
      const where = options.powerLoss
        ? `on the power-loss mounts (${options.powerLoss.storeDirs.join(', ')}), as their owner keeps them`
        : `in ${cluster.root}: delete them when read`;
      progress(`the servers' stores are kept ${where}`);
      for (const node of cluster.nodes) {
        const said = node
          .log()
          .split('\n')
          .filter((line) => /\[(ERR|WRN|FTL)\]|^panic:/.test(line));
        for (const line of said.slice(-10)) progress(`  ${node.spec.name}: ${line}`);
      }
    }
  }
  return {
    faults,
    stallsMs,
    acknowledged: ackedCount + (paused?.ackedCount ?? 0),
    acknowledgedLost,
    acknowledgedTwice,
    acknowledgedMissingOnReplica: missingOnReplica,
    silentDivergences,
    reportedDivergences,
    shortCopiesReported,
    ...ended,
    refused,
    checks,
    replicaMessagesCompared: tally.messages,
    replicaSequenceMismatches: tally.sequenceMismatches,
    promotionsUnanswered,
    serverExits,
    storesReplaced,
    operatorRestarts,
    findings,
  };
}

/**
 * After a 'stop-primary' fault: waits (up to 120 s) for the stopped primary's next
 * acknowledgement, and returns how long after its SIGSTOP it came (ms).
 */
async function pausedStall(
  paused: PausedPrimary,
  before: { count: number; at: number },
  findings: string[],
): Promise<number> {
  const deadline = performance.now() + 120_000;
  while (paused.ackedCount === before.count && performance.now() < deadline) await sleep(20);
  if (paused.ackedCount > before.count) return paused.lastAckAt - before.at;
  findings.push('stop-primary: the stopped primary acknowledged nothing 120 s after SIGCONT');
  return performance.now() - before.at;
}
