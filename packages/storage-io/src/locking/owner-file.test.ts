import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Errno } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { claimOwnerFile } from './owner-file.js';
import { formatOwnerRecord, newOwnerRecord } from './owner-record.js';
import { ownIdentity, type ProcessIdentity } from './process-identity.js';

// What a power cut does to the clock as this process sees it: every file already on disk was
// changed before the boot this process runs in. Set per test; undefined means the real boot.
let bootOverride: number | undefined;
vi.mock('./process-identity.js', async (original) => {
  const real = await original<typeof import('./process-identity.js')>();
  return { ...real, bootTimeMs: () => bootOverride ?? real.bootTimeMs() };
});

// A disk that fills up in the middle of a takeover: the next renameSync fails with ENOSPC.
let renameFails = false;
vi.mock('node:fs', async (original) => {
  const real = await original<typeof import('node:fs')>();
  return {
    ...real,
    renameSync: (from: string, to: string) => {
      if (renameFails) {
        renameFails = false;
        throw Object.assign(new Error('ENOSPC: no space left on device, rename'), {
          code: 'ENOSPC',
          errno: -Errno.ENOSPC,
          syscall: 'rename',
        });
      }
      real.renameSync(from, to);
    },
  };
});

const root = tempDir('walnut-owner-');
afterAll(removeTempDirs);
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
    await expectWalError(refusal, 'WAL_LOCK_UNAVAILABLE');
    await expect(refusal).rejects.toThrow(`then remove ${path}`);
  });
});

describe('takeovers cut short by power losses', () => {
  const dead = () => ({ ...newOwnerRecord(self), pid: 999_999_999 });

  it('are finished through a chain of markers, and leave only the owner file', async () => {
    const path = freshOwnerPath();
    let stale = dead();
    writeFileSync(path, formatOwnerRecord(stale));
    // Ten takers in a row died holding the marker for the one before them.
    for (let i = 0; i < 10; i++) {
      const taker = dead();
      writeFileSync(`${path}.takeover-${stale.nonce}`, formatOwnerRecord(taker));
      stale = taker;
    }
    const claim = await claimOwnerFile(path, self);
    expect(readFileSync(path, 'utf8')).toContain(`nonce ${claim.record.nonce}`);
    expect(readdirSync(join(path, '..'))).toEqual(['LOCK.pid']);
    claim.release();
  });

  it('never need a name longer than the file system allows', async () => {
    // Markers as takeovers once named them, one level deeper per taker that died: the next
    // level's name (over 255 bytes) could not be created, and the log stayed locked.
    const path = freshOwnerPath();
    let stale = dead();
    writeFileSync(path, formatOwnerRecord(stale));
    let marker = path;
    for (let level = 0; level < 7; level++) {
      marker = `${marker}.takeover-${stale.nonce}`;
      stale = dead();
      writeFileSync(marker, formatOwnerRecord(stale));
    }
    const claim = await claimOwnerFile(path, self);
    expect(readdirSync(join(path, '..'))).toEqual(['LOCK.pid']);
    claim.release();
  });
});

describe('a takeover the disk cuts short', () => {
  it('fails with WAL_NO_SPACE, leaves nothing of its own, and the next attempt of this process succeeds', async () => {
    const path = freshOwnerPath();
    writeFileSync(path, formatOwnerRecord({ ...newOwnerRecord(self), pid: 999_999_999 }));
    renameFails = true;
    await expectWalError(claimOwnerFile(path, self), 'WAL_NO_SPACE');
    expect(readdirSync(join(path, '..'))).toEqual(['LOCK.pid']);
    const claim = await claimOwnerFile(path, self);
    expect(readFileSync(path, 'utf8')).toContain(`nonce ${claim.record.nonce}`);
    claim.release();
  });
});

describe('an owner file that cannot be read', () => {
  // A directory in its place: reading it fails with EISDIR, as it fails with EMFILE when the
  // process has no descriptor left, and every read of it, the cleanup's included, fails.
  it('is refused with WAL_IO naming it, never with the raw error of the cleanup', async () => {
    const path = freshOwnerPath();
    mkdirSync(path);
    const error = await expectWalError(claimOwnerFile(path, self), 'WAL_IO');
    expect(error.message).toContain(path);
  });
});

describe('an owner file of this process, left by a worker thread that ended', () => {
  const left = (flock: boolean) => formatOwnerRecord(newOwnerRecord(self, flock));

  it('is taken over by a caller holding the flock when its owner held the flock too', async () => {
    const path = freshOwnerPath();
    writeFileSync(path, left(true));
    const claim = await claimOwnerFile(path, self, true);
    expect(readFileSync(path, 'utf8')).toContain(`nonce ${claim.record.nonce}`);
    expect(readFileSync(path, 'utf8')).toContain('flock 1');
    claim.release();
  });

  it.each([
    ['its owner held no flock', false, true],
    ['the caller holds no flock', true, false],
  ])('is refused when %s', async (_, ownerFlock, callerFlock) => {
    const path = freshOwnerPath();
    writeFileSync(path, left(ownerFlock));
    const refusal = claimOwnerFile(path, self, callerFlock);
    await expectWalError(refusal, 'WAL_LOCKED');
    await expect(refusal).rejects.toThrow(`this process (pid ${process.pid})`);
  });

  it('says, when the caller holds no flock, that an ended worker thread cannot be told apart', async () => {
    const path = freshOwnerPath();
    writeFileSync(path, left(false));
    const refused = await expectWalError(claimOwnerFile(path, self, false), 'WAL_LOCKED');
    expect(refused.message).toContain('worker thread that ended without closing its log');
    expect(refused.details.note).toContain('until this process exits');
    // A caller holding the flock knows the holder lives (an ended worker's went with it).
    const live = await expectWalError(claimOwnerFile(path, self, true), 'WAL_LOCKED');
    expect(live.details.note).toBeUndefined();
  });
});
