import { once } from 'node:events';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NatsCluster } from './nats-cluster.js';
import { restartExited } from './nemesis-faults.js';

describe('restartExited', () => {
  it('starts again a server that exited behind the harness, once, and says what it said last', {
    timeout: 60_000,
  }, async () => {
    const cluster = await NatsCluster.start({ size: 1 });
    try {
      expect(await restartExited(cluster, new Map())).toEqual([]);
      const node = cluster.nodes[0]!;
      const child = node.process!;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;

      const revived = new Map<string, number>();
      const said = await restartExited(cluster, revived);
      expect(said).toHaveLength(1);
      expect(said[0]!.storeReplaced).toBe(false);
      expect(said[0]!.said).toMatch(
        /^n1 had exited \(SIGKILL; its last lines: .*Server is ready.*\); started again$/,
      );
      expect(node.exited).toBe(false);
      expect(node.running).toBe(true);
      const nc = await cluster.connect();
      await nc.close();

      // Killed again, it did not die of its store: it stays down until the next fault.
      const again = once(node.process!, 'exit');
      node.process!.kill('SIGKILL');
      await again;
      expect(await restartExited(cluster, revived)).toEqual([]);
      expect(node.running).toBe(false);
    } finally {
      await cluster.stop();
    }
  });

  it('gives a server that dies twice of its store an empty one, and it comes back', {
    timeout: 60_000,
  }, async () => {
    const cluster = await NatsCluster.start({ size: 1 });
    try {
      const node = cluster.nodes[0]!;
      await node.kill();
      // A store the server cannot start from: a file where its JetStream directory goes.
      const jetstream = join(node.spec.storeDir, 'jetstream');
      rmSync(jetstream, { recursive: true, force: true });
      writeFileSync(jetstream, 'not a directory');

      const revived = new Map<string, number>();
      const first = await restartExited(cluster, revived);
      expect(first).toHaveLength(1);
      expect(first[0]!.storeReplaced).toBe(false);
      expect(first[0]!.said).toMatch(/not started again/);
      expect(node.exited).toBe(true);

      const second = await restartExited(cluster, revived);
      expect(second).toHaveLength(1);
      expect(second[0]!.storeReplaced).toBe(true);
      expect(second[0]!.said).toMatch(/store replaced by an empty one, started again$/);
      expect(node.running).toBe(true);
      expect(existsSync(jetstream)).toBe(true);
      await cluster.waitForJetStream(20_000);
    } finally {
      await cluster.stop();
    }
  });
});
