import { type AddressInfo, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { LOOPBACK, listeningOnAnyPort } from './ports.js';

/**
 * A TCP proxy on 127.0.0.1 in front of `target` (a port on 127.0.0.1): the tests point a
 * client at it and cut it to make a partition. While cut it refuses nothing but forwards
 * nothing either (connections are held silent, like a dropped link), and existing
 * connections stop moving bytes; `heal()` closes the silent ones so clients reconnect.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutValue = false;
  /** While held (`hold`): the bytes kept, with the socket each is for. */
  private held: { to: Socket; chunk: Buffer }[] | null = null;
  /** Connections a cut silenced: after `healSilently` they stay open and never move a byte. */
  private readonly silenced = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly delayMs: number,
  ) {}

  /**
   * `delayMs`: the target's bytes reach the client that much later (in order), so the
   * client hears late of what the server did (its acknowledgements, a watched key's change).
   */
  static async start(targetPort: number, { delayMs = 0 } = {}): Promise<TcpProxy> {
    const server = await listeningOnAnyPort();
    const port = (server.address() as AddressInfo).port;
    const proxy = new TcpProxy(server, port, targetPort, delayMs);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get url(): string {
    return `nats://${LOOPBACK}:${this.port}`;
  }

  get isCut(): boolean {
    return this.cutValue;
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => {
      this.sockets.delete(client);
      this.silenced.delete(client);
    });
    client.on('error', () => client.destroy());
    if (this.cutValue) {
      client.pause();
      return;
    }
    const upstream = tcpConnect(this.targetPort, LOOPBACK);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    const flows = () => !this.cutValue && !this.silenced.has(client);
    const send = (to: Socket, chunk: Buffer) => {
      if (this.held !== null) this.held.push({ to, chunk });
      else to.write(chunk);
    };
    client.on('data', (chunk: Buffer) => {
      if (flows()) send(upstream, chunk);
    });
    const forward = (chunk: Buffer) => {
      if (flows()) send(client, chunk);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (this.delayMs === 0) forward(chunk);
      else setTimeout(forward, this.delayMs, chunk);
    });
  }

  /**
   * Bytes stop flowing both ways and are kept, in order; nothing is closed and the ends
   * stay alive (a link that stalls, as a partition a network heals): `release` delivers
   * them.
   */
  hold(): void {
    this.held ??= [];
  }

  /** Delivers what `hold` kept, in the order it came, and lets bytes flow again. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const { to, chunk } of held) if (!to.destroyed) to.write(chunk);
  }

  /** Bytes stop flowing both ways; nothing is closed (a silent partition). */
  cut(): void {
    this.cutValue = true;
    for (const socket of this.sockets) this.silenced.add(socket);
  }

  /** Ends the partition: the silent connections are closed so their clients reconnect. */
  heal(): void {
    this.cutValue = false;
    this.silenced.clear();
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Ends the partition for new connections only: those it silenced stay open and dead, as
   * when a NAT or firewall dropped them without a reset reaching either end (half-open).
   */
  healSilently(): void {
    this.cutValue = false;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
