import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalErrorCode } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import { PerCoreWalReader } from '@walnut/percore';
import { SegmentedWal } from '@walnut/segmented';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { coreWalWriterExample } from './porting-guide/laminar-core-wal-writer.js';
import { mmapReaderExample } from './porting-guide/nodedb-mmap-wal-reader.js';
import { segmentedExample } from './porting-guide/nodedb-segmented-wal.js';
import { rewalExample } from './porting-guide/rewal-wal.js';
import { portableExample } from './porting-guide/rivven-portable-wal-writer.js';

/**
 * docs/porting.md shows one TypeScript example per Rust original. Each lives in
 * test/porting-guide/*.ts between `// #region guide` markers: this file checks that the
 * guide shows exactly that code, that it type-checks against the sources, and runs it
 * against a temporary directory, asserting what the guide's comments claim.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const examplesDir = join(root, 'test', 'porting-guide');
const exampleFiles = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.ts'))
  .sort();

afterEach(removeTempDirs);

/** The guide's text of an example: its regions, each dedented, separated by a blank line. */
function guideText(file: string): string {
  const regions = [
    ...readFileSync(join(examplesDir, file), 'utf8').matchAll(
      /\/\/ #region guide\n([\s\S]*?)\n[ \t]*\/\/ #endregion guide/g,
    ),
  ].map((match) => dedent(match[1]!));
  if (regions.length === 0) throw new Error(`${file} has no '// #region guide'`);
  return regions.join('\n\n');
}

function dedent(text: string): string {
  const lines = text.split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join('\n');
}

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((match) => match[1]!);
}

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  }
  return out;
}

describe('docs/porting.md', () => {
  it('shows every example exactly as it is tested', () => {
    const blocks = tsBlocks(readFileSync(join(root, 'docs', 'porting.md'), 'utf8'));
    expect(exampleFiles.length).toBe(5);
    for (const file of exampleFiles) expect(blocks, file).toContain(guideText(file));
  });

  it('has examples that type-check against the sources', () => {
    const program = ts.createProgram(
      exampleFiles.map((file) => join(examplesDir, file)),
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        customConditions: ['@walnut/source'],
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2023.d.ts'],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
      },
    );
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || d.file.fileName.startsWith(examplesDir))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('the porting guide, run', () => {
  it('rewal Wal → @walnut/wal Wal', async () => {
    const result = await rewalExample(tempDir('walnut-porting-'));
    expect(result).toEqual({
      first: 1n,
      last: 4n,
      queued: 5n,
      handedOut: 5n,
      durable: 4n,
      synced: 5n,
      replayed: [1n, 2n, 3n, 4n, 5n],
      iterated: ['event-2', 'no promise'],
      closed: true,
    });
  });

  it('rewal replay(0, f) reads everything; in Walnut replay(0n) does too', async () => {
    const wal = await Wal.open(tempDir('walnut-porting-')).build();
    await wal.append(Buffer.from('a'));
    const lsns: bigint[] = [];
    await wal.replay(0n, (record) => {
      lsns.push(record.lsn);
    });
    expect(lsns).toEqual([1n]);
    await wal.shutdown();
  });

  it('nodedb-wal SegmentedWal → @walnut/segmented SegmentedWal', async () => {
    const result = await segmentedExample(tempDir('walnut-porting-'));
    expect(result.lsn).toBe(1n);
    expect(result.durable).toBe(100n);
    expect(result.next).toBe(101n);
    expect(result.page.hasMore).toBe(true);
    expect(result.page.records.map((r) => r.lsn)).toEqual([
      1n,
      2n,
      3n,
      4n,
      5n,
      6n,
      7n,
      8n,
      9n,
      10n,
    ]);
    const [first, second] = result.page.records;
    expect(first).toMatchObject({ type: 1, tenantId: 7n, vshardId: undefined });
    expect(second).toMatchObject({ type: 0, tenantId: undefined });
    expect(result.replayed).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i + 1)));
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect(result.floorLsn).toBeGreaterThan(1n);
    expect(result.floorLsn).toBeLessThanOrEqual(50n);
    expect(result.belowFloor).toBe(true);
  });

  it('nodedb-wal MmapWalReader → @walnut/mmap-reader MmapWalReader', async () => {
    const dir = tempDir('walnut-porting-');
    const writer = await SegmentedWal.open({ dir, segmentTargetSize: 4096 });
    for (let i = 0; i < 100; i++) writer.append({ payload: Buffer.from(`record ${i}`.repeat(8)) });
    await writer.sync();
    await writer.close();
    const before = digest(dir);

    const result = await mmapReaderExample(dir);
    expect(result.lsns[0]).toBe(1n);
    expect(result.lsns.length).toBeGreaterThan(1);
    expect(result.lsns).toEqual(result.lsns.map((_, i) => BigInt(i + 1)));
    expect(result.stop).toMatchObject({ kind: 'eof', offset: result.offset });
    expect(typeof result.released).toBe('boolean');
    expect(result.summary.records).toBeGreaterThan(result.lsns.length);
    expect(result.summary.nextLsn).toBe(BigInt(result.summary.records) + 1n);
    expect(digest(dir)).toEqual(before); // the reversed payloads never reached the files
  });

  it('laminar-storage CoreWalWriter → @walnut/percore CoreWalWriter', async () => {
    const dir = tempDir('walnut-porting-');
    const result = await coreWalWriterExample(dir);
    expect(result.end).toBe(result.afterPut);
    expect(result.end).toBeGreaterThan(64);
    expect(result.state).toEqual({ sequence: 4n, epoch: 1n });
    const reader = await PerCoreWalReader.open(join(dir, 'wal-0.log'));
    const { entries } = await reader.read();
    expect(entries.map((e) => [e.op, e.sequence, e.epoch])).toEqual([
      ['put', 1n, 0n],
      ['epochBarrier', 2n, 1n],
      ['commit', 3n, 1n],
      ['delete', 4n, 1n],
    ]);
    expect(result.synced).toBe(readFileSync(join(dir, 'wal-0.log')).length);
  });

  it('rivven-core PortableWalWriter → @walnut/portable PortableWalWriter', async () => {
    const dir = tempDir('walnut-porting-');
    const result = await portableExample(dir);
    expect(result.at).toBe(64);
    expect(result.pending).toBe(12);
    expect(result.framed).toBe(64 + 18);
    expect(result.size).toBe(readFileSync(join(dir, 'wal.log')).length);
    const bytes = readFileSync(join(dir, 'wal.log'));
    expect(bytes.subarray(64, 82).toString()).toBe('entry1entry2entry3');
    expect(result.refused).toBe(WalErrorCode.BAD_STATE);
    const reader = MmapWalReader.open(join(dir, 'records.wal'));
    const record = reader.nextRecord();
    expect(record?.lsn).toBe(1n);
    expect(record?.payload.toString()).toBe('one');
    expect(reader.nextRecord()).toBeNull();
  });
});
