import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FILE_HEADER_SIZE, FrameScanner, WalErrorCode } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PortableWalWriter } from './portable-wal-writer.js';

afterAll(removeTempDirs);
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

const built = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;

/** Another program with the file open for writing (the built package): it appends one record and waits. */
function holder(dir: string, path: string): Promise<ChildProcess> {
  const script = join(dir, 'holder.mjs');
  writeFileSync(
    script,
    `const { PortableWalWriter } = await import(${JSON.stringify(built)});
const log = await PortableWalWriter.open(${JSON.stringify(path)});
await log.appendWithChecksum(Buffer.from('from the holder'));
await log.sync();
console.log('open');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the holder ended (${code}) before it opened`)));
  });
}

function records(path: string): string[] {
  const scanner = new FrameScanner(readFileSync(path), { start: FILE_HEADER_SIZE });
  return [...scanner.records()].map((r) => r.payload.toString());
}

describe('one writer per portable file, across processes', () => {
  it('refuses it while another process holds the file, and lets it in once that one was killed', async () => {
    const dir = tempDir('walnut-portable-lock-');
    const path = join(dir, 'events.wal');
    const child = await holder(dir, path);
    const refused = await expectWalError(PortableWalWriter.open(path), WalErrorCode.LOCKED);
    expect(refused.message).toContain(`process ${child.pid}`);
    expect(refused.message).toMatch(/close its PortableWalWriter/);
    expect(refused.message).not.toMatch(/directory|read-only/);
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
    const log = await PortableWalWriter.open(path);
    await log.appendWithChecksum(Buffer.from('after the kill'));
    await log.close();
    expect(records(path)).toEqual(['from the holder', 'after the kill']);
  });
});
