// Puts each native addon into its package's prebuilds/<platform>-<arch>/ under the name
// node-gyp-build looks for, so that the packed tarball carries binaries (docs/decisions/0003).
// N-API binaries are not tied to one Node version: one build serves Node 20, 22 and 24.
//
//   node scripts/prebuilds.mjs          build/Release/*.node (as `pnpm install` built it)
//                                       -> prebuilds/<this platform>-<arch>/node.napi.<libc>.node
//   node scripts/prebuilds.mjs --arm64  also cross-compiles linux-arm64 (glibc) with Debian's
//                                       aarch64-linux-gnu-gcc (decision 0006)
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

for (const name of ADDONS)
  rmSync(join(root, 'packages', name, 'prebuilds'), { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);

for (const name of ADDONS) {
  const pkg = join(root, 'packages', name);
  const release = join(pkg, 'build', 'Release');
  place(name, `${platform()}-${arch()}`, libc, oneAddonIn(release, name), 'strip');
}
if (process.argv.includes('--arm64')) crossCompileArm64();

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
