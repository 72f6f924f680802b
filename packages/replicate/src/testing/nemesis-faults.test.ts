import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { NatsCluster } from './nats-cluster.js';
import { restartExited } from './nemesis-faults.js';

describe('restartExited', () => {
  it('starts again a server that exited behind the harness, once, and says what it said last', {
    timeout: 60_000,
  }, async () => {
    const cluster = await NatsCluster.start({ size: 1 });
    try {
      expect(await restartExited(cluster, new Set())).toEqual([]);
      const node = cluster.nodes[0]!;
      const child = node.process!;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;

      const revived = new Set<string>();
      const said = await restartExited(cluster, revived);
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(
        /^n1 had exited \(SIGKILL; its last lines: .*Server is ready.*\); started again$/,
      );
      expect(node.exited).toBe(false);
      expect(node.running).toBe(true);
      const nc = await cluster.connect();
      await nc.close();

      // Once per fault: a server that exits again stays down until the next one.
      const again = once(node.process!, 'exit');
      node.process!.kill('SIGKILL');
      await again;
      expect(await restartExited(cluster, revived)).toEqual([]);
      expect(node.running).toBe(false);
    } finally {
      await cluster.stop();
    }
  });
});
