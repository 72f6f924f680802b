import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConformanceTests } from '@durable-streams/server-conformance-tests';
import { afterAll, beforeAll } from 'vitest';
import { type DurableStreamsServer, serve } from './index.js';

/**
 * The Durable Streams protocol's public conformance suite, run against `walnut serve` on a
 * loopback port with a fresh log (durability 'sync'). Long-polls end after 1 s here, so
 * the suite's waits for a 204 stay short.
 */
const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-conformance-'));
let server: DurableStreamsServer;
let baseUrl = '';

beforeAll(async () => {
  server = await serve(dir, { longPollTimeoutMs: 1_000 });
  baseUrl = server.url;
});

afterAll(async () => {
  await server?.close(2_000);
  rmSync(dir, { recursive: true, force: true });
});

runConformanceTests({
  get baseUrl() {
    return baseUrl;
  },
  longPollTimeoutMs: 3_000,
});
