import type { Leadership } from './link.js';

/**
 * The servers found serving a stream short, over one episode: a primary's stream that ends
 * before what was replicated (docs/decisions/0915), or a follower's copy that misses
 * records in its middle (0917). nats-server 2.9.10 can keep a copy that stopped applying,
 * or lost records, yet reports it current; another server's copy may be whole, so each
 * other server gets its turn to serve the stream before the copies count as all short.
 */
export class ShortCopies {
  private readonly found = new Set<string>();
  private turns = 0;

  /**
   * The stream as `serving.leader` serves it is short: true to have another server serve it
   * and look again, false when every server was found short, there is no other server, or
   * the episode's turns are spent (two per server: the next server chosen may be one found
   * short again).
   */
  tryAnother(serving: Leadership): boolean {
    this.found.add(serving.leader);
    const { servers } = serving;
    if (servers.every((server) => this.found.has(server))) return false;
    if (this.turns >= servers.length * 2) return false;
    this.turns++;
    return true;
  }

  /** Whether `server` was found serving the stream short in this episode. */
  has(server: string): boolean {
    return this.found.has(server);
  }

  /** The servers found serving the stream short in this episode. */
  servers(): string[] {
    return [...this.found];
  }

  /** The episode ended: the stream was found whole, or it was re-seeded. */
  reset(): void {
    this.found.clear();
    this.turns = 0;
  }
}
