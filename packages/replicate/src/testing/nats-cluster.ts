import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePorts, LOOPBACK } from './ports.js';
import { RouteProxy } from './route-proxy.js';

/**
 * Real nats-server processes for the replication tests: a cluster of `size` nodes on
 * loopback ports (each with its own client and cluster port and its own JetStream store
 * under a temp directory), started and stopped by the test. Every process started here is
 * killed by `stop()`, also when a test fails (call it from `afterAll`/`finally`), and a
 * process-exit hook kills any left behind. Only 127.0.0.1 is ever listened on or dialled.
 */

/** Where the server binary is: `NATS_SERVER` or the Debian package's path, then PATH. */
export function natsServerBinary(): string {
  if (process.env.NATS_SERVER) return process.env.NATS_SERVER;
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return 'nats-server';
}

/** How often a cluster start is tried when a port it was given is taken before its node binds it. */
const START_ATTEMPTS = 3;
/** How often, and how far apart, a restarted node tries to bind its ports again. */
const RESTART_ATTEMPTS = 20;
const RESTART_WAIT_MS = 250;
/** What nats-server prints once it listens on all its ports, and how long a start may take. */
const READY_LINE = 'Server is ready';
const START_TIMEOUT_MS = 10_000;

/** Whether a node failed to start because one of its ports was taken. */
function portTaken(error: unknown): boolean {
  return String((error as Error).message).includes('address already in use');
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface NodeSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  readonly configPath: string;
}

export class NatsNode {
  process: ChildProcess | undefined;
  private output = '';

  constructor(readonly spec: NodeSpec) {}

  get url(): string {
    return `nats://${LOOPBACK}:${this.spec.clientPort}`;
  }

  /** Started and not exited since (a server stopped by SIGSTOP is running). */
  get running(): boolean {
    return this.process !== undefined && !this.exited;
  }

  /** Started once and exited since, by a signal or on its own (a kill by `kill()` too). */
  get exited(): boolean {
    const child = this.process;
    return child !== undefined && (child.exitCode !== null || child.signalCode !== null);
  }

  /**
   * Starts the server and waits until it accepts client connections. A restart keeps the
   * node's ports, which the other nodes' routes and the clients name; one may be held for a
   * moment (another process's connection got it as its ephemeral port), so a restart tries
   * again for up to RESTART_ATTEMPTS × RESTART_WAIT_MS.
   */
  async start(): Promise<void> {
    if (this.running) return;
    const restart = this.process !== undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.spawnAndWait();
      } catch (error) {
        if (!restart || !portTaken(error) || attempt >= RESTART_ATTEMPTS) throw error;
        await sleep(RESTART_WAIT_MS);
      }
    }
  }

  /**
   * Waits for the server's own "Server is ready" line, printed once it listens on every port:
   * a connection to the client port could reach whatever other process holds that port.
   */
  private async spawnAndWait(): Promise<void> {
    const child = spawn(natsServerBinary(), ['-c', this.spec.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.output = '';
    let ready = false;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
      ready ||= this.output.includes(READY_LINE);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    live.add(child);
    child.once('exit', () => live.delete(child));
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    this.process = child;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError) {
        throw new Error(
          `cannot run ${natsServerBinary()} (${spawnError.message}): the replication tests need nats-server — apt-get install nats-server, or set NATS_SERVER to its path`,
        );
      }
      if (child.exitCode !== null) {
        throw new Error(
          `nats-server ${this.spec.name} exited (${child.exitCode}):\n${this.output}`,
        );
      }
      if (ready) return;
      if (Date.now() >= deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `nats-server ${this.spec.name} did not say "${READY_LINE}" within ${START_TIMEOUT_MS} ms:\n${this.output}`,
        );
      }
      await sleep(20);
    }
  }

  /** SIGKILL: the node dies with whatever it had not written. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** A graceful stop (SIGTERM), falling back to SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** The last lines the server printed (for failure messages). */
  log(): string {
    return this.output;
  }
}

export interface ClusterOptions {
  /** Nodes in the cluster (1 = a single server without a cluster block). Default 3. */
  readonly size?: number;
  /** Extra lines in every node's `jetstream {}` block (e.g. `sync_interval: always` on 2.10+). */
  readonly jetstreamExtra?: string;
  /**
   * Route every node's cluster traffic through a `RouteProxy` in front of each node, so
   * `isolate(name)` can cut one off from the others (a partition between servers).
   */
  readonly routeProxies?: boolean;
  /** Each node's JetStream store directory (default: `<root>/n<i>`), e.g. on a crash file system. */
  readonly storeDirs?: readonly string[];
}

export class NatsCluster {
  readonly nodes: NatsNode[];
  readonly root: string;
  /** Node name → the proxy in front of its route port (with `routeProxies`). */
  readonly routeProxies: Map<string, RouteProxy>;

  private constructor(root: string, nodes: NatsNode[], routeProxies: Map<string, RouteProxy>) {
    this.root = root;
    this.nodes = nodes;
    this.routeProxies = routeProxies;
  }

  /** Cuts node `name` off from the others (needs `routeProxies`). */
  isolate(name: string): void {
    if (this.routeProxies.size === 0) throw new Error('start the cluster with routeProxies');
    for (const [target, proxy] of this.routeProxies) {
      if (target === name) proxy.cut();
      else proxy.cutFromNode(name);
    }
  }

  /** Ends every partition made with `isolate`. */
  healRoutes(): void {
    for (const proxy of this.routeProxies.values()) proxy.heal();
  }

  /**
   * Writes each node's configuration and starts them all. A port released by `freePorts`
   * can be taken by another process before its node binds it: then the cluster is started
   * again on fresh ports, up to START_ATTEMPTS times.
   */
  static async start(options: ClusterOptions = {}): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.startOnce(options);
      } catch (error) {
        if (!portTaken(error) || attempt >= START_ATTEMPTS) throw error;
      }
    }
  }

  private static async startOnce(options: ClusterOptions): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const root = mkdtempSync(join(tmpdir(), 'walnut-nats-'));
    const free = await freePorts(2 * size);
    const ports = Array.from({ length: size }, (_, i) => ({
      client: free[2 * i]!,
      cluster: free[2 * i + 1]!,
    }));
    const proxies = new Map<string, RouteProxy>();
    if (options.routeProxies) {
      for (const [i, port] of ports.entries()) {
        proxies.set(`n${i + 1}`, await RouteProxy.start(port.cluster));
      }
    }
    // The port the other nodes reach node i's routes on: its proxy's, or its own.
    const routePort = (i: number) => proxies.get(`n${i + 1}`)?.port ?? ports[i]!.cluster;
    const nodes = ports.map((port, i) => {
      const name = `n${i + 1}`;
      const storeDir = options.storeDirs?.[i] ?? join(root, name);
      mkdirSync(storeDir, { recursive: true });
      const configPath = join(root, `${name}.conf`);
      const routes = ports
        .map((_, j) => j)
        .filter((j) => j !== i)
        .map((j) => `nats-route://${LOOPBACK}:${routePort(j)}`);
      const lines = [
        `server_name: ${name}`,
        `listen: ${LOOPBACK}:${port.client}`,
        // The default 1 MiB; the tests that need more set their own.
        'max_payload: 1048576',
        'jetstream {',
        `  store_dir: "${storeDir}"`,
        '  max_memory_store: 67108864',
        '  max_file_store: 2147483648',
        ...(options.jetstreamExtra ? [`  ${options.jetstreamExtra}`] : []),
        '}',
      ];
      if (size > 1) {
        lines.push(
          'cluster {',
          '  name: walnut-test',
          `  listen: ${LOOPBACK}:${port.cluster}`,
          ...(options.routeProxies ? [`  advertise: "${LOOPBACK}:${routePort(i)}"`] : []),
          `  routes: [${routes.join(', ')}]`,
          '}',
        );
      }
      writeFileSync(configPath, `${lines.join('\n')}\n`);
      return new NatsNode({
        name,
        clientPort: port.client,
        clusterPort: port.cluster,
        storeDir,
        configPath,
      });
    });
    const cluster = new NatsCluster(root, nodes, proxies);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await cluster.waitForJetStream(30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's client URL. */
  get servers(): string[] {
    return this.nodes.map((n) => n.url);
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.spec.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** A plain client connection to the running nodes (close it yourself). */
  async connect(): Promise<NatsConnection> {
    return connect({
      servers: this.nodes.filter((n) => n.running).map((n) => n.url),
      reconnectTimeWait: 250,
      maxReconnectAttempts: -1,
    });
  }

  /** Waits until JetStream answers on the cluster (a meta leader is elected). */
  async waitForJetStream(timeoutMs: number): Promise<void> {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      let nc: NatsConnection | undefined;
      try {
        nc = await this.connect();
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        // A meta leader may answer before it knows every peer ("no suitable peers for
        // placement"): ready means a stream with a copy on every node can be created.
        const probe = `walnut-ready-${process.pid}`;
        await jsm.streams.add({
          name: probe,
          subjects: [`${probe}.x`],
          num_replicas: this.nodes.filter((n) => n.running).length,
        });
        await jsm.streams.delete(probe);
        return;
      } catch (error) {
        last = error;
      } finally {
        await nc?.close().catch(() => undefined);
      }
      await sleep(250);
    }
    throw new Error(`JetStream did not become ready in ${timeoutMs} ms: ${String(last)}`);
  }

  /** The name of the node leading `stream` (its Raft group), once there is one. */
  async streamLeader(stream: string, timeoutMs = 20_000): Promise<string> {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const nc = await this.connect();
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        const info = await jsm.streams.info(stream);
        const leader = info.cluster?.leader;
        if (leader) return leader;
      } catch {
      } finally {
        await nc.close().catch(() => undefined);
      }
      await sleep(200);
    }
    throw new Error(`stream ${stream} has no leader after ${timeoutMs} ms`);
  }

  /**
   * Whether JetStream answers for `stream` with a leader: `'answers'`, or what it did
   * instead ("has no leader for …", "did not answer: …").
   */
  async streamAnswer(stream: string, timeoutMs = 5_000): Promise<string> {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    let nc: NatsConnection | undefined;
    try {
      nc = await this.connect();
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
      const info = await jsm.streams.info(stream);
      return info.cluster?.leader ? 'answers' : `has no leader for ${stream}`;
    } catch (error) {
      return `did not answer for ${stream}: ${String(error)}`;
    } finally {
      await nc?.close().catch(() => undefined);
    }
  }

  /** Restarts the nodes one at a time (a graceful stop, then a start; a node down is started). */
  async restartEach(): Promise<void> {
    for (const node of this.nodes) {
      await node.stop();
      await node.start().catch(() => undefined);
    }
  }

  /**
   * Stops every node (SIGKILL) and deletes `root` with the stores in it, unless
   * `keepStores` (for a post-mortem: what each server held when it stopped).
   */
  async stop(options: { keepStores?: boolean } = {}): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    for (const proxy of this.routeProxies.values()) await proxy.stop();
    if (!options.keepStores) rmSync(this.root, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
