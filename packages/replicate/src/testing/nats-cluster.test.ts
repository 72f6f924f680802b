import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NatsCluster, sleep } from './nats-cluster.js';
import { freePorts } from './ports.js';

describe('freePorts', () => {
  it('hands out distinct loopback ports that are free to bind', async () => {
    const ports = await freePorts(12);
    expect(new Set(ports).size).toBe(12);
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('NatsNode.start after a kill', () => {
  it('waits for its port while another process holds it for a moment', {
    timeout: 60_000,
  }, async () => {
    const cluster = await NatsCluster.start({ size: 1 });
    const squatter = createServer();
    try {
      const node = cluster.nodes[0]!;
      await node.kill();
      await new Promise<void>((resolve, reject) => {
        squatter.once('error', reject);
        squatter.listen(node.spec.clientPort, '127.0.0.1', () => resolve());
      });
      const released = sleep(1_000).then(() => new Promise((resolve) => squatter.close(resolve)));
      await node.start();
      await released;
      expect(node.running).toBe(true);
      const nc = await cluster.connect();
      await nc.close();
    } finally {
      squatter.close();
      await cluster.stop();
    }
  });
});

describe('NatsCluster.stop', () => {
  it('deletes the stores, or keeps them when asked (for a post-mortem)', {
    timeout: 60_000,
  }, async () => {
    const gone = await NatsCluster.start({ size: 1 });
    await gone.stop();
    expect(existsSync(gone.root)).toBe(false);

    const kept = await NatsCluster.start({ size: 1 });
    try {
      await kept.stop({ keepStores: true });
      expect(kept.nodes[0]!.running).toBe(false);
      expect(existsSync(join(kept.root, 'n1'))).toBe(true);
    } finally {
      rmSync(kept.root, { recursive: true, force: true });
    }
  });
});

describe('NatsNode.running', () => {
  it('holds through a SIGSTOP and SIGCONT, and ends with the process', {
    timeout: 60_000,
  }, async () => {
    const cluster = await NatsCluster.start({ size: 1 });
    try {
      const node = cluster.nodes[0]!;
      node.process!.kill('SIGSTOP');
      expect(node.running).toBe(true);
      node.process!.kill('SIGCONT');
      expect(node.running).toBe(true);
      const nc = await cluster.connect();
      await nc.close();
      await node.kill();
      expect(node.running).toBe(false);
    } finally {
      await cluster.stop();
    }
  });
});
