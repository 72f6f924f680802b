import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WalErrorCode } from '@walnut/codec';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PerCoreWalManager } from '../src/index.js';

// The other process runs plain Node against the BUILT packages: `pnpm run build` first.
const OPEN_CORE_AT = fileURLToPath(new URL('./fixtures/open-core-at.mjs', import.meta.url));

afterEach(removeTempDirs);

function openAtInAnotherProcess(path: string, coreId: number, position: number) {
  const out = execFileSync(
    process.execPath,
    [OPEN_CORE_AT, path, String(coreId), String(position)],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as { opened?: true; code?: string; message?: string };
}

describe('a core file owned by a live PerCoreWalManager', () => {
  it("cannot be cut by CoreWalWriter.openAt in another process, under its own core id or another's", async () => {
    const baseDir = tempDir('percore-one-writer-');
    const io = new SyncFsStorageIo();
    const manager = await PerCoreWalManager.create({ baseDir, numCores: 2, io });
    const writer = manager.writer(0);
    for (let i = 0; i < 100; i++) writer.appendPut(Buffer.from(`k${i}`), Buffer.alloc(100, 1));
    await writer.sync();
    const path = manager.corePath(0);
    const size = statSync(path).size;

    for (const coreId of [0, 1]) {
      const outcome = openAtInAnotherProcess(path, coreId, 64);
      expect(outcome.code).toBe(WalErrorCode.LOCKED);
      expect(outcome.message).toContain(`process ${process.pid}`);
    }
    expect(statSync(path).size).toBe(size);
    await manager.close();

    const { recovery, manager: reopened } = await PerCoreWalManager.openAndRecover({
      baseDir,
      numCores: 2,
      io,
    });
    expect(recovery.entries).toHaveLength(100);
    await reopened.close();
    expect(openAtInAnotherProcess(path, 0, size)).toEqual({ opened: true }); // once it is free
  });
});
