import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsCluster, NatsNode } from './nats-cluster.js';
import { sleep } from './nats-cluster.js';

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
  'stop-primary',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The faults of the servers alone; the other two strike a primary. */
export type ServerFault = Exclude<FaultKind, 'promote-partitioned' | 'stop-primary'>;

/** A power cut of every server, whose stores are on a file system that drops what no fsync covered. */
export interface PowerCut {
  /** Called with every server killed: cuts the power, brings the file systems back with what survived. */
  cut(): Promise<void>;
  /**
   * Makes everything the stores hold durable (a clean unmount and mount), called with
   * every server killed: half the power cuts then strike stores that already hold data,
   * so the stream comes back shorter rather than gone (nats-server never fsyncs a
   * directory, so a store created since the last mount never survives a cut).
   */
  settle?(): Promise<void>;
}

export interface ServerFaultTarget {
  readonly cluster: NatsCluster;
  /** The stream's leader when the fault began, and one other server drawn at random. */
  readonly leader: NatsNode;
  readonly other: NatsNode;
  /** How long the fault lasts, ms. */
  readonly holdMs: number;
  readonly rand: () => number;
  readonly powerLoss?: PowerCut;
}

/** A small seeded generator (mulberry32): the same seed, the same faults. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Strikes the servers with `kind` for `holdMs`, then lets them recover. */
export async function injectServerFault(kind: ServerFault, t: ServerFaultTarget): Promise<void> {
  const { cluster, leader, other, holdMs } = t;
  const all = cluster.nodes;
  const others = all.filter((n) => n !== leader);
  switch (kind) {
    case 'kill-leader':
      await leader.kill();
      await sleep(holdMs);
      await startEach([leader]);
      return;
    case 'kill-follower':
      await other.kill();
      await sleep(holdMs);
      await startEach([other]);
      return;
    case 'kill-all':
      await Promise.all(all.map((n) => n.kill()));
      await sleep(holdMs);
      await startEach(all);
      return;
    case 'stop-cont': {
      const target = t.rand() < 0.5 ? leader : other;
      target.process?.kill('SIGSTOP');
      await sleep(holdMs);
      target.process?.kill('SIGCONT');
      return;
    }
    case 'partition-leader':
      cluster.isolate(leader.spec.name);
      await sleep(holdMs);
      cluster.healRoutes();
      return;
    case 'quorum-loss':
      await Promise.all(others.map((n) => n.kill()));
      await sleep(holdMs);
      await startEach(others);
      return;
    case 'power-loss': {
      const power = t.powerLoss!;
      if (power.settle && t.rand() < 0.5) {
        await Promise.all(all.map((n) => n.kill()));
        await power.settle();
        await startEach(all);
        await sleep(holdMs);
      }
      await Promise.all(all.map((n) => n.kill()));
      await power.cut();
      await sleep(holdMs);
      await startEach(all);
      return;
    }
  }
}

/**
 * Starts `nodes`. One that exits while starting (nats-server 2.9.10 panics on a Raft
 * peer-state file a power cut tore, sometimes after "Server is ready") is not this fault's
 * failure: `restartExited` tries it once more after the fault and reports what it said.
 */
async function startEach(nodes: readonly NatsNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.start().catch(() => undefined)));
}

/** What a server that cannot start from its own store prints as it dies (2.9.10's torn peer state). */
const CRASH_LINE = /^panic:|\[FTL\]/m;

/**
 * Starts again every server that exited although no fault had it down, and counts it in
 * `tries` (per server, for one fault). nats-server 2.9.10 exits on its own, e.g. by a panic
 * on a Raft peer-state file a power cut tore, and a cluster missing two servers answers
 * nothing for as long as they stay down. The first exit gets a plain start. A server that
 * dies again the same way (a panic or a fatal line) cannot start from its store: it gets
 * what an operator gives a server whose disk broke, an empty store (every entry of its
 * store directory removed), and catches up from the others. Any other second exit, and any
 * third, leaves it down until the next fault. Returns what each said last and what was done.
 */
export async function restartExited(
  cluster: NatsCluster,
  tries: Map<string, number>,
): Promise<{ said: string; storeReplaced: boolean }[]> {
  const done: { said: string; storeReplaced: boolean }[] = [];
  for (const node of cluster.nodes) {
    const name = node.spec.name;
    const before = tries.get(name) ?? 0;
    if (!node.exited || before >= 2) continue;
    const storeReplaced = before === 1 && CRASH_LINE.test(node.log());
    if (before === 1 && !storeReplaced) continue;
    tries.set(name, before + 1);
    const { exitCode, signalCode } = node.process!;
    const last = node.log().trim().split('\n').slice(-3).join(' | ');
    if (storeReplaced) emptyDir(node.spec.storeDir);
    let outcome = storeReplaced
      ? 'exited the same way after its restart: store replaced by an empty one, started again'
      : 'started again';
    try {
      await node.start();
    } catch (error) {
      outcome = `${storeReplaced ? 'store replaced by an empty one, ' : ''}not started again: ${String(error).split('\n')[0]}`;
    }
    done.push({
      said: `${name} had exited (${signalCode ?? `code ${exitCode}`}; its last lines: ${last || 'none'}); ${outcome}`,
      storeReplaced,
    });
  }
  return done;
}

/** Removes what `dir` holds, not `dir` itself (a store's directory may be a mount point). */
function emptyDir(dir: string): void {
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
}
