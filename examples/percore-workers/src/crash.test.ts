import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreEntry } from '@walnut/codec';
import { PerCoreWalManager, PerCoreWalReader } from '@walnut/percore';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { afterAll, describe, expect, it } from 'vitest';

// The child runs plain Node against the BUILT packages: `pnpm run build` first.
const MAIN = fileURLToPath(new URL('./main.mjs', import.meta.url));
const WORKERS = 2;
const ROUNDS = 4;
const dir = mkdtempSync(join(tmpdir(), 'percore-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the example until it has reported `syncs` durable batches, then SIGKILLs it. */
function runAndKill(syncs: number, extraMs: number): Promise<Map<number, bigint>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--dir',
        dir,
        '--workers',
        String(WORKERS),
        '--entries',
        '0',
        '--sync-every',
        '50',
        '--checkpoint-ms',
        '10',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked = new Map<number, bigint>();
    let stderr = '';
    let pending = '';
    let seen = 0;
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as { event: string; coreId: number; sequence: string };
        if (event.event !== 'synced') continue;
        const sequence = BigInt(event.sequence);
        if (sequence > (acked.get(event.coreId) ?? 0n)) acked.set(event.coreId, sequence);
        if (++seen === syncs) setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`the example exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

const sequences = (entries: CoreEntry[]) => entries.map((e) => e.sequence);
const range = (from: bigint, to: bigint) =>
  Array.from({ length: Number(to - from + 1n) }, (_, i) => from + BigInt(i));

describe('percore-workers example under kill -9', () => {
  it('recovers every entry a worker had synced, in a valid order, round after round', async () => {
    const acked = new Map<number, bigint>();
    for (let round = 0; round < ROUNDS; round++) {
      const syncs = 5 + Math.floor(Math.random() * 30);
      const reported = await runAndKill(syncs, Math.floor(Math.random() * 40));
      for (const [core, seq] of reported) if (seq > (acked.get(core) ?? 0n)) acked.set(core, seq);

      const io = new SyncFsStorageIo();
      const manager = await PerCoreWalManager.open({ baseDir: dir, numCores: WORKERS, io });
      const { entries, manifest } = await manager.recover();
      for (let core = 0; core < WORKERS; core++) {
        const after = manifest.cores[core]!.sequence;
        const own = entries.filter((e) => e.coreId === core);
        const last = own.at(-1)?.sequence ?? after;
        // recover(): exactly the entries after the checkpoint barrier, contiguous…
        expect(sequences(own)).toEqual(last > after ? range(after + 1n, last) : []);
        // …reaching at least the last entry the worker reported synced (the checkpoint
        // covers everything up to its barrier).
        expect(last >= (acked.get(core) ?? 0n)).toBe(true);
        // And the whole file, from the header, holds every synced entry.
        const reader = await PerCoreWalReader.open(manager.corePath(core), { io, coreId: core });
        const whole = await reader.read();
        await reader.close();
        // (A worker killed before its first write leaves a file with no entries.)
        const lastInFile = whole.entries.at(-1)?.sequence ?? 0n;
        expect(sequences(whole.entries)).toEqual(lastInFile > 0n ? range(1n, lastInFile) : []);
        expect(lastInFile >= (acked.get(core) ?? 0n)).toBe(true);
      }
      for (let i = 1; i < entries.length; i++)
        expect(entries[i]!.epoch >= entries[i - 1]!.epoch).toBe(true);
      await manager.close();
    }
    expect([...acked.values()].every((seq) => seq > 0n)).toBe(true);
  });
});
