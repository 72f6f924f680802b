// Puts each native addon into its package's prebuilds/<platform>-<arch>/ under the name
// node-gyp-build looks for, so that the packed tarball carries binaries (docs/decisions/0003).
// N-API binaries are not tied to one Node version: one build serves Node 20, 22 and 24.
//
//   node scripts/prebuilds.mjs          build/Release/*.node (as `pnpm install` built it)
//                                       -> prebuilds/<this platform>-<arch>/node.napi.<libc>.node
//   node scripts/prebuilds.mjs --arm64  also cross-compiles linux-arm64 (glibc) with Debian's
//                                       aarch64-linux-gnu-gcc (decision 0006)
//   node scripts/prebuilds.mjs --win32  also cross-compiles win32-x64 with Debian's mingw-w64
//                                       against Node-API (docs/decisions/0009)
//   node scripts/prebuilds.mjs --clean  remove every prebuilds/ directory
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['codec', 'storage-io', 'mmap-reader'];
const libc = platform() === 'linux' ? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : '';
const CROSS = 'aarch64-linux-gnu';
const MINGW = 'x86_64-w64-mingw32';
// The Node-API headers and node.exe's export list (.def) as npm publishes them: N-API is the
// same on every Node version this supports, so one pinned copy serves them all.
const NODE_API_HEADERS = 'node-api-headers@1.9.0';
/** Which sources make each addon on Windows; mmap-reader has none (it reads with node:fs there). */
const WIN32_SOURCES = {
  codec: ['native/codec_addon.c', 'native/crc32c.c', 'native/frame_walk.c'],
  'storage-io': ['native/addon_win32.c'],
};

for (const name of ADDONS)
  rmSync(join(root, 'packages', name, 'prebuilds'), { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);

for (const name of ADDONS) {
  const pkg = join(root, 'packages', name);
  const release = join(pkg, 'build', 'Release');
  place(name, `${platform()}-${arch()}`, libc, oneAddonIn(release, name), 'strip');
}
if (process.argv.includes('--arm64')) crossCompileArm64();
if (process.argv.includes('--win32')) crossCompileWin32();

function oneAddonIn(release, name) {
  const built = existsSync(release) ? readdirSync(release).filter((f) => f.endsWith('.node')) : [];
  if (built.length !== 1) {
    console.error(
      `${name}: expected one addon in ${release} (build it first), found ${built.length}`,
    );
    process.exit(1);
  }
  return join(release, built[0]);
}

function place(name, target, libcName, file, strip) {
  const dir = join(root, 'packages', name, 'prebuilds', target);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, ['node', 'napi', libcName, 'node'].filter(Boolean).join('.'));
  copyFileSync(file, out);
  try {
    // Debug symbols are most of the file and help no user; strip is optional.
    execFileSync(strip, ['--strip-debug', out], { stdio: 'ignore' });
  } catch {
    // no strip here: the binary works as it is
  }
  console.log(`${name}: ${out.slice(root.length + 1)} (${statSync(out).size} bytes)`);
}

/**
 * Builds each addon for linux-arm64 in a copy of its package (its own build/ stays the
 * host's, which the tests load), with node-gyp as npm ships it and the N-API headers of the
 * Node running this script: they are the same for every architecture, so nothing is fetched.
 */
function crossCompileArm64() {
  if (platform() !== 'linux') throw new Error('--arm64 cross-compiles on Linux only');
  const npmRoot = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  const gyp = join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const nodedir = dirname(dirname(process.execPath));
  if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h')))
    throw new Error(`no Node headers under ${nodedir}/include/node to compile against`);
  const work = mkdtempSync(join(tmpdir(), 'walnut-arm64-'));
  try {
    for (const name of ADDONS) {
      const pkg = join(root, 'packages', name);
      const copy = join(work, name);
      mkdirSync(copy);
      cpSync(join(pkg, 'binding.gyp'), join(copy, 'binding.gyp'));
      cpSync(join(pkg, 'native'), join(copy, 'native'), { recursive: true });
      // storage-io's and mmap-reader's binding.gyp find codec's N-API header through @walnut/codec.
      symlinkSync(join(pkg, 'node_modules'), join(copy, 'node_modules'));
      execFileSync(
        process.execPath,
        [gyp, 'rebuild', '--arch=arm64', `--nodedir=${nodedir}`, '--loglevel=warn'],
        {
          cwd: copy,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            CC: `${CROSS}-gcc`,
            CXX: `${CROSS}-g++`,
            LINK: `${CROSS}-g++`,
            AR: `${CROSS}-ar`,
          },
        },
      );
      place(
        name,
        'linux-arm64',
        'glibc',
        oneAddonIn(join(copy, 'build', 'Release'), name),
        `${CROSS}-strip`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Builds codec and storage-io for win32-x64 with mingw-w64: a DLL named .node that imports
 * napi_* from node.exe through an import library made from node-api-headers' .def. Nothing
 * of the C runtime is linked that Windows does not ship (msvcrt.dll), so the file runs on a
 * bare Windows.
 */
function crossCompileWin32() {
  if (platform() !== 'linux') throw new Error('--win32 cross-compiles on Linux only');
  const work = mkdtempSync(join(tmpdir(), 'walnut-win32-'));
  try {
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        work,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        NODE_API_HEADERS,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const headers = join(work, 'node_modules', 'node-api-headers');
    const importLib = join(work, 'libnode.a');
    execFileSync(`${MINGW}-dlltool`, [
      '-d',
      join(headers, 'def', 'node_api.def'),
      '-l',
      importLib,
      '-D',
      'node.exe',
    ]);
    for (const [name, sources] of Object.entries(WIN32_SOURCES)) {
      const pkg = join(root, 'packages', name);
      const out = join(work, `${name}.node`);
      execFileSync(
        `${MINGW}-gcc`,
        [
          '-shared',
          '-O2',
          '-std=gnu11',
          '-Wall',
          '-Wextra',
          '-DNAPI_VERSION=8',
          `-DNODE_GYP_MODULE_NAME=walnut_${name.replace('-', '_')}`,
          `-I${join(headers, 'include')}`,
          `-I${join(root, 'packages', 'codec', 'native')}`,
          ...sources.map((source) => join(pkg, source)),
          importLib,
          '-static-libgcc',
          '-o',
          out,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      place(name, 'win32-x64', '', out, `${MINGW}-strip`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
