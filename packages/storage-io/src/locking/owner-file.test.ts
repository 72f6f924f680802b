import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { claimOwnerFile } from './owner-file.js';
import { ownIdentity, type ProcessIdentity } from './process-identity.js';

// What a power cut does to the clock as this process sees it: every file already on disk was
// changed before the boot this process runs in. Set per test; undefined means the real boot.
let bootOverride: number | undefined;
vi.mock('./process-identity.js', async (original) => {
  const real = await original<typeof import('./process-identity.js')>();
  return { ...real, bootTimeMs: () => bootOverride ?? real.bootTimeMs() };
});

const root = mkdtempSync(join(tmpdir(), 'walnut-owner-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const self = ownIdentity() as ProcessIdentity;
let count = 0;
function freshOwnerPath(): string {
  const dir = join(root, `log-${count++}`);
  mkdirSync(dir);
  return join(dir, 'LOCK.pid');
}

describe('an owner file a power cut left unreadable', () => {
  it.each(['', 'walnut-lock 1\npid 12', '\0\0\0\0'])(
    'is taken over without a manual step when it was changed before this boot (%j)',
    async (text) => {
      const path = freshOwnerPath();
      writeFileSync(path, text);
      writeFileSync(`${path}.takeover-0123`, ''); // a marker the power cut left empty too
      writeFileSync(`${path}.77-abcd.tmp`, ''); // and a temporary file never linked
      bootOverride = Date.now() + 60_000;
      try {
        const claim = await claimOwnerFile(path, self);
        expect(readFileSync(path, 'utf8')).toContain(`nonce ${claim.record.nonce}`);
        expect(readdirSync(join(path, '..'))).toEqual(['LOCK.pid']);
        claim.release();
      } finally {
        bootOverride = undefined;
      }
    },
  );

  it('is refused, naming the file to remove, when it was changed in this boot', async () => {
    const path = freshOwnerPath();
    writeFileSync(path, '');
    const refusal = claimOwnerFile(path, self);
    await expect(refusal).rejects.toMatchObject({ code: 'WAL_LOCK_UNAVAILABLE' });
    await expect(refusal).rejects.toThrow(`then remove ${path}`);
  });
});
