import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const testing = pathToFileURL(join(dist, 'testing.js')).href;
// The codec build the testing entry itself imports.
const codec = pathToFileURL(
  join(dist, '..', 'node_modules', '@walnut', 'codec', 'dist', 'index.js'),
).href;

function node(script: string, env: Record<string, string> = {}): string {
  const clean = { ...process.env };
  delete clean.WALNUT_REQUIRE_IO_URING;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: '/',
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('@walnut/storage-io/testing outside a test runner', () => {
  it('imports in a plain Node process and its helpers work there', () => {
    const out = node(`
      const t = await import(${JSON.stringify(testing)});
      const { WalError } = await import(${JSON.stringify(codec)});
      const { MemoryStorageIo } = await import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)});
      const io = new t.RecordingStorageIo(new MemoryStorageIo());
      const fd = await io.open('/f', { create: true });
      io.submitWrite(fd, Buffer.alloc(8), 0);
      try { io.submitWrite(fd, Buffer.alloc(8), 4); } catch (e) { console.log(e.name); }
      const e = t.expectWalError(() => { throw new WalError('WAL_CLOSED', 'x'); }, 'WAL_CLOSED');
      console.log(e.code);
      try { t.expectWalError(() => 1, 'WAL_CLOSED'); } catch (e) { console.log(e.name); }
    `);
    expect(out.trim().split('\n')).toEqual([
      'OverlappingWritesError',
      'WAL_CLOSED',
      'AssertionError',
    ]);
  });

  it('ioUringForTests skips with the reason where io_uring is unusable, and fails when it is required', () => {
    // Switching the addon off makes io_uring unusable on any machine.
    const script = `
      const t = await import(${JSON.stringify(testing)});
      try { const u = t.ioUringForTests(); console.log(JSON.stringify([u.available, u.skip, u.title('suite')])); }
      catch (e) { console.log('threw: ' + e.message); }
    `;
    const skipped = JSON.parse(node(script, { WALNUT_STORAGE_IO_NATIVE: '0' }).trim());
    expect(skipped[0]).toBe(false);
    expect(skipped[1]).toMatch(/^io_uring unavailable: .*WALNUT_STORAGE_IO_NATIVE/);
    expect(skipped[2]).toBe(`suite (skipped: ${skipped[1]})`);
    const required = node(script, { WALNUT_STORAGE_IO_NATIVE: '0', WALNUT_REQUIRE_IO_URING: '1' });
    expect(required).toMatch(
      /^threw: WALNUT_REQUIRE_IO_URING=1, but io_uring is not usable here: /,
    );
  });
});
