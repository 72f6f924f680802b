import { type Server, type Socket, connect as tcpConnect } from 'node:net';
import { listeningOnAnyPort } from './ports.js';

const LOOPBACK = '127.0.0.1';
/** How much of a connection's first bytes is searched for the connecting server's name. */
const NAME_WINDOW = 8192;

interface RouteConnection {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The server that opened it (from the INFO it sends), null until seen. */
  from: string | null;
  head: string;
  silenced: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 in front of one nats-server's route port: every other node
 * reaches that node through it (its `cluster.advertise` names the proxy, so routes learned
 * by gossip go through it too). It reads which server opened each connection from the
 * INFO that server sends, so a partition can cut one node off from the others: cut
 * connections stay open but move no bytes (a silent link), and `heal` closes them so the
 * servers connect again.
 */
export class RouteProxy {
  private readonly connections = new Set<RouteConnection>();
  private cutAll = false;
  private readonly cutFrom = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<RouteProxy> {
    const server = await listeningOnAnyPort();
    const port = (server.address() as { port: number }).port;
    const proxy = new RouteProxy(server, port, targetPort);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** Nothing reaches the node behind this proxy. */
  cut(): void {
    this.cutAll = true;
  }

  /** Nothing from the node `name` reaches the node behind this proxy. */
  cutFromNode(name: string): void {
    this.cutFrom.add(name);
  }

  /** Ends every cut: silenced connections are closed, and the servers connect again. */
  heal(): void {
    this.cutAll = false;
    this.cutFrom.clear();
    for (const c of this.connections) {
      if (c.silenced) {
        c.client.destroy();
        c.upstream.destroy();
      }
    }
  }

  async stop(): Promise<void> {
    for (const c of this.connections) {
      c.client.destroy();
      c.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private blocked(c: RouteConnection): boolean {
    const blocked = this.cutAll || (c.from !== null && this.cutFrom.has(c.from));
    if (blocked) c.silenced = true;
    return blocked;
  }

  private accept(client: Socket): void {
    const upstream = tcpConnect(this.targetPort, LOOPBACK);
    const c: RouteConnection = { client, upstream, from: null, head: '', silenced: false };
    this.connections.add(c);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.connections.delete(c);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
    client.on('data', (chunk: Buffer) => {
      if (c.from === null && c.head.length < NAME_WINDOW) {
        c.head += chunk.toString('latin1');
        const match = /"server_name":"([^"]+)"/.exec(c.head);
        if (match) c.from = match[1]!;
      }
      if (!this.blocked(c)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!this.blocked(c)) client.write(chunk);
    });
  }
}
