import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from './nats-cluster.js';

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
