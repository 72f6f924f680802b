// Writes the golden compressed log that every reader's tests read on every runtime (Node 20
// cannot write zstd, decision 0117): run it on Node 22.15 or later after `pnpm build`, from
// the repository root, as `node packages/wal/test/golden/write-compressed-log.mjs`. It
// rewrites packages/codec/src/testing/compressed-log.ts; what the log holds is listed there.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressedLogEvent } from '@walnut/codec/testing';
import { Batch, Wal } from '@walnut/wal';

const dir = mkdtempSync(join(tmpdir(), 'walnut-golden-'));
try {
  const wal = await Wal.open(dir)
    .compression('zstd')
    .zeroFillAhead(0)
    .clock(() => 1_795_000_000_000);
  const batch = (from, to) => {
    const b = new Batch();
    for (let i = from; i <= to; i++) b.add(compressedLogEvent(i));
    return b;
  };
  await wal.appendBatch(batch(1, 20));
  await wal.append(compressedLogEvent(21), Buffer.from('meta of 21'));
  await wal.append(Buffer.from('a short record, written plain'));
  await wal.appendRecord({ payload: compressedLogEvent(23), tenantId: 7n });
  await wal.appendBatch(batch(24, 32));
  await wal.close();
  const segments = readdirSync(dir).filter((name) => name.endsWith('.wal'));
  if (segments.length !== 1) throw new Error(`expected one segment, found ${segments}`);
  const hex = readFileSync(join(dir, segments[0])).toString('hex');
  const lines = hex.match(/.{1,96}/g).map((line) => `  '${line}',`);
  const out = new URL('../../../codec/src/testing/compressed-log.ts', import.meta.url);
  writeFileSync(
    out,
    `// Written by packages/wal/test/golden/write-compressed-log.mjs on Node ${process.versions.node}: do not edit.
import { compressedLogEvent } from './compressed-log-events.js';

export { compressedLogEvent };

/**
 * A segmented log of one segment, written by a Wal with compression 'zstd': LSNs 1..20 a
 * batch of compressedLogEvent(1..20), 21 compressedLogEvent(21) with meta 'meta of 21', 22
 * the plain record 'a short record, written plain' (too short to compress), 23
 * compressedLogEvent(23) with tenant 7, 24..32 a batch of compressedLogEvent(24..32). Every
 * frame but LSN 22's is compressed.
 */
export function compressedLog(): { name: string; bytes: Buffer; lastLsn: bigint } {
  return { name: '${segments[0]}', bytes: Buffer.from(HEX.join(''), 'hex'), lastLsn: 32n };
}

/** What \`compressedLog()\` holds, record by record. */
export function compressedLogRecords(): { lsn: bigint; payload: Buffer; meta?: Buffer; tenantId?: bigint }[] {
  const out: { lsn: bigint; payload: Buffer; meta?: Buffer; tenantId?: bigint }[] = [];
  for (let i = 1; i <= 20; i++) out.push({ lsn: BigInt(i), payload: compressedLogEvent(i) });
  out.push({ lsn: 21n, payload: compressedLogEvent(21), meta: Buffer.from('meta of 21') });
  out.push({ lsn: 22n, payload: Buffer.from('a short record, written plain') });
  out.push({ lsn: 23n, payload: compressedLogEvent(23), tenantId: 7n });
  for (let i = 24; i <= 32; i++) out.push({ lsn: BigInt(i), payload: compressedLogEvent(i) });
  return out;
}

const HEX = [
${lines.join('\n')}
];
`,
  );
  console.log(`${segments[0]}: ${hex.length / 2} bytes`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
