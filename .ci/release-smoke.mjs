// Runs inside an empty project where the packed @walnut/* tarballs were installed with plain
// npm, as a user's first program would: durable appends, reopen, replay (a Wal, then a
// portable log), and what the library says about its native parts. Prints one JSON line;
// exits non-zero on any surprise.
//   node smoke.mjs <expect: native|fallback|emulated>
// `emulated`: another architecture under qemu-user (linux-arm64): every addon must load from
// its prebuilds/ for this architecture, and the backend is whichever `auto` proved, io_uring
// or a clean fallback to sync-fs that says why (qemu-user may not emulate io_uring).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32cImplementation } from '@walnut/codec';
import { describeMmapSupport } from '@walnut/mmap-reader';
import { PortableWalWriter } from '@walnut/portable';
import { nativeAddonStatus } from '@walnut/storage-io';
import { PortableWalWriter as PortableFromWal, Wal } from '@walnut/wal';

const expect = process.argv[2];
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message.split('\n')[0] }));
const fail = (why) => {
  console.error(`smoke: ${why}`);
  process.exit(1);
};

const dir = mkdtempSync(join(tmpdir(), 'walnut-smoke-'));
try {
  let wal = await Wal.open(dir).build();
  const acked = await Promise.all(
    Array.from({ length: 200 }, (_, i) => wal.append(Buffer.from(`record ${i}`))),
  );
  const backend = wal.stats().backend;
  await wal.shutdown(10_000);
  // Awaiting the builder opens the log, as build() does.
  wal = await Wal.open(dir);
  const replayed = [];
  await wal.replay(1n, (r) => {
    replayed.push(r.payload.toString());
  });
  await wal.shutdown(10_000);
  if (acked.at(-1) !== 200n) fail(`last LSN ${acked.at(-1)}, expected 200`);
  if (replayed.length !== 200 || replayed[199] !== 'record 199') fail('replay lost records');
  // A CommonJS caller may require() the ESM entry where Node allows it (20.19+, 22.12+).
  const required = createRequire(import.meta.url)('@walnut/wal');
  if (typeof required.Wal?.open !== 'function') fail('require("@walnut/wal") gave no Wal');
  // The single-file log from its own package; @walnut/wal's deprecated re-export is that class.
  const file = join(dir, 'portable.wal');
  const portable = await PortableWalWriter.open(file);
  for (let i = 0; i < 10; i++) await portable.appendWithChecksumBatched(Buffer.from(`p ${i}`));
  await portable.close();
  const reopened = await PortableWalWriter.open(file);
  const nextLsn = reopened.nextLsn;
  await reopened.close();
  if (nextLsn !== 11n) fail(`portable log reopened at LSN ${nextLsn}, expected 11`);
  if (PortableFromWal !== PortableWalWriter) fail('@walnut/wal re-exports another writer');
  await new Promise((resolve) => setImmediate(resolve));
  const mmap = describeMmapSupport();
  const native = backend.name === 'io_uring' && mmap.addonLoaded;
  const fallbackWarnings = warnings.filter((w) => w.code === 'WALNUT_NATIVE_FALLBACK');
  if (expect === 'native' && !native) fail(`expected the native addons, got ${backend.reason}`);
  if (expect === 'native' && fallbackWarnings.length > 0) fail('native, yet it warned');
  if (expect === 'fallback' && native) fail('expected the fallbacks, yet the addons loaded');
  if (expect === 'fallback' && fallbackWarnings.length === 0) fail('fell back without a warning');
  if (expect === 'emulated') {
    const prebuilt = `prebuilds/linux-${process.arch}/`;
    const addons = {
      codec: crc32cImplementation.reason,
      'storage-io': nativeAddonStatus().reason,
      'mmap-reader': mmap.addonPath ?? mmap.reason,
    };
    for (const [name, reason] of Object.entries(addons))
      if (!reason.includes(prebuilt)) fail(`${name}: not loaded from ${prebuilt}: ${reason}`);
    if (fallbackWarnings.length > 0) fail('every addon loaded, yet it warned');
    if (
      backend.name !== 'io_uring' &&
      !backend.reason.startsWith('auto: fell back to sync-fs because ')
    )
      fail(`backend ${backend.name} without a clean fallback: ${backend.reason}`);
  }
  console.log(
    JSON.stringify({
      node: process.version,
      arch: process.arch,
      backend: backend.name,
      reason: backend.reason,
      mmap: mmap.reason,
      warnings,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
