import { describe, expect, it } from 'vitest';
import { Follower } from '../src/index.js';
import { payloadOf, streamName, tempDir, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

describe('a follower facing a history it cannot follow', () => {
  it('stops with WAL_DIVERGED, after a few looks with backoff, when its next LSN is in neither the stream nor the object store', async () => {
    const stream = streamName('gap');
    const primary = await openPrimary(stream, { streamMaxMessages: 50, uploadSegments: false });
    for (let i = 0; i < 200; i++) await primary.append(payloadOf(i));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    const started = Date.now();
    const error = await follower.waitFor(200n, 30_000).catch((e) => e);
    expect(error).toMatchObject({ code: 'WAL_DIVERGED', details: { needFrom: 1n } });
    expect(error.message).toContain('in neither the stream');
    expect(follower.stats().failed).toBe(error.message);
    // Five looks with backoff from 100 ms: over a few hundred ms, well under the wait.
    expect(Date.now() - started).toBeGreaterThan(200);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
