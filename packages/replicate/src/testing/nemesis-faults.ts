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

/**
 * Starts again every server that exited although no fault had it down, except those in
 * `once` (already started again during this fault), and adds them to it. nats-server 2.9.10
 * exits on its own, e.g. by a panic on a Raft peer-state file a power cut tore, and a
 * cluster missing two servers answers nothing for as long as they stay down. Returns what
 * each said last, and whether it came back.
 */
export async function restartExited(cluster: NatsCluster, once: Set<string>): Promise<string[]> {
  const said: string[] = [];
  for (const node of cluster.nodes) {
    const name = node.spec.name;
    if (!node.exited || once.has(name)) continue;
    once.add(name);
    const { exitCode, signalCode } = node.process!;
    const last = node.log().trim().split('\n').slice(-3).join(' | ');
    let outcome = 'started again';
    try {
      await node.start();
    } catch (error) {
      outcome = `not started again: ${String(error).split('\n')[0]}`;
    }
    said.push(
      `${name} had exited (${signalCode ?? `code ${exitCode}`}; its last lines: ${last || 'none'}); ${outcome}`,
    );
  }
  return said;
}
