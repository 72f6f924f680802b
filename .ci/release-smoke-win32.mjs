// The release check's program for win32-x64, run by Windows Node under Wine inside a project
// where the packed tarballs were installed with `npm install --os=win32 --cpu=x64`: codec's and
// storage-io's addons from their prebuilds/win32-x64, durable appends, a second writer process
// refused with WAL_LOCKED naming this one, reopen, replay; then a log past MAX_PATH opened
// through a file: URL. Prints one JSON line; exits non-zero
// on any surprise.
//   node smoke-win32.mjs               (the second writer: node smoke-win32.mjs --second <dir>)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32cImplementation } from '@walnut/codec';
import { nativeAddonStatus } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';

const fail = (why) => {
  console.error(`smoke-win32: ${why}`);
  process.exit(1);
};

if (process.argv[2] === '--second') {
  try {
    const wal = await Wal.open(process.argv[3]).build();
    await wal.shutdown(10_000);
    console.log('admitted');
  } catch (error) {
    console.log(error.code === 'WAL_LOCKED' ? `refused ${error.details.holderPid}` : String(error));
  }
  process.exit(0);
}

const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message.split('\n')[0] }));
const prebuilt = /prebuilds[\\/]win32-x64[\\/]/;
if (!prebuilt.test(crc32cImplementation.reason)) fail(`codec: ${crc32cImplementation.reason}`);
if (!prebuilt.test(nativeAddonStatus().reason)) fail(`storage-io: ${nativeAddonStatus().reason}`);

const dir = mkdtempSync(join(tmpdir(), 'walnut-smoke-'));
const second = () =>
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--second', dir], {
    encoding: 'utf8',
  }).trim();
try {
  let wal = await Wal.open(dir).build();
  const acked = await Promise.all(
    Array.from({ length: 200 }, (_, i) => wal.append(Buffer.from(`record ${i}`))),
  );
  const backend = wal.stats().backend;
  const whileHeld = second();
  if (whileHeld !== `refused ${process.pid}`) fail(`second writer while held: ${whileHeld}`);
  await wal.shutdown(10_000);
  const afterwards = second();
  if (afterwards !== 'admitted') fail(`second writer after shutdown: ${afterwards}`);
  wal = await Wal.open(dir).build();
  const replayed = [];
  await wal.replay(1n, (r) => {
    replayed.push(r.payload.toString());
  });
  await wal.shutdown(10_000);
  if (acked.at(-1) !== 200n) fail(`last LSN ${acked.at(-1)}, expected 200`);
  if (replayed.length !== 200 || replayed[199] !== 'record 199') fail('replay lost records');
  // Paths as Windows gives them: a drive letter and backslashes (tmpdir), past MAX_PATH (260),
  // opened through a file: URL.
  const deep = join(dir, ...Array.from({ length: 6 }, (_, i) => `${i}`.repeat(50)));
  if (deep.length <= 260) fail(`${deep} is not a long path`);
  wal = await Wal.open(pathToFileURL(deep)).build();
  for (let i = 0; i < 10; i++) await wal.append(Buffer.from(`deep ${i}`));
  await wal.shutdown(10_000);
  wal = await Wal.open(pathToFileURL(deep)).build();
  let deepCount = 0;
  await wal.replay(1n, () => {
    deepCount++;
  });
  await wal.shutdown(10_000);
  if (deepCount !== 10) fail(`the long path's log replayed ${deepCount} records, expected 10`);
  if (warnings.some((w) => w.code === 'WALNUT_NATIVE_FALLBACK')) fail('an addon fell back');
  console.log(
    JSON.stringify({ node: process.version, backend: backend.name, whileHeld, deep, warnings }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
