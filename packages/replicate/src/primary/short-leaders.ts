import type { Leadership } from '../cluster/link.js';

/**
 * The servers found leading a stream short of what was replicated, over one episode
 * (docs/decisions/0915). A short stream is re-seeded only once every server holding a
 * copy has served it short: nats-server 2.9.10 can make a copy that stopped applying, yet
 * is reported current, the leader, and a marker published on that copy forks the copies.
 * Each other server gets its turn to lead first, through a step-down.
 */
export class ShortLeaders {
  private readonly found = new Set<string>();
  private stepDowns = 0;

  /**
   * The stream as `leadership.leader` serves it is short: true to step that leader down and
   * look again, false to re-seed — every server was found short, there is no other server,
   * or the episode's step-downs are spent (two per server: an election may pick a server
   * found short again).
   */
  stepDownFirst(leadership: Leadership): boolean {
    this.found.add(leadership.leader);
    const { servers } = leadership;
    if (servers.every((server) => this.found.has(server))) return false;
    if (this.stepDowns >= servers.length * 2) return false;
    this.stepDowns++;
    return true;
  }

  /** The episode ended: the stream was found whole, or it was re-seeded. */
  reset(): void {
    this.found.clear();
    this.stepDowns = 0;
  }
}
