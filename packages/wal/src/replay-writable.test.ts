import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test',
  'fixtures',
  'scribble-replay.mjs',
);
const root = tempDir('walnut-scribble-');
afterAll(removeTempDirs);

/**
 * Each segment's size and digest, over its first `sizes[name]` bytes when given: the child
 * opens the log for writing, which zero-fills ahead of the end of its active segment.
 */
function digests(dir: string, sizes: Record<string, number> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.wal')) continue;
    const bytes = readFileSync(join(dir, name));
    const upTo = sizes[name] ?? bytes.length;
    out[name] = `${upTo} ${createHash('sha256').update(bytes.subarray(0, upTo)).digest('hex')}`;
  }
  return out;
}

describe('buffers handed out by replay may be written by the caller', () => {
  it('survives writes into every replayed payload and meta, and leaves every segment file as it was', async () => {
    const dir = join(root, 'log');
    const wal = await Wal.open(dir)
      .segmentSize(16 * 1024)
      .build();
    const records = 1500;
    for (let i = 1; i <= records; i++) {
      const payload = Buffer.from(`record ${i} ${'x'.repeat(40)}`);
      await (i % 3 === 0 ? wal.append(payload, Buffer.from(`meta ${i}`)) : wal.append(payload));
    }
    const sealed = (await wal.segments()).filter((segment) => segment.sealed).length;
    await wal.close();
    expect(sealed).toBeGreaterThan(3);
    const before = digests(dir);

    const child = spawnSync(process.execPath, [fixture, dir], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ signal: child.signal, status: child.status, stderr: child.stderr }).toEqual({
      signal: null,
      status: 0,
      stderr: '',
    });
    const [seen, intact] = child.stdout.trim().split(' ').map(Number);
    // Wal.replay and Wal.iterator see every record; the readers at least the sealed ones.
    expect(seen).toBeGreaterThan(2 * records);
    // A later replay reads the file's bytes, not the caller's scribbles.
    expect(intact).toBe(records);
    const sizes = Object.fromEntries(
      Object.entries(before).map(([name, digest]) => [name, Number(digest.split(' ')[0])]),
    );
    expect(digests(dir, sizes)).toEqual(before);
  });
});
