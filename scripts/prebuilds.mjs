// Puts each native addon, as built by `pnpm install` (node-gyp, N-API), into its package's
// prebuilds/<platform>-<arch>/ under the name node-gyp-build looks for, so that the packed
// tarball carries a binary for this platform (docs/decisions/0003). N-API binaries are not
// tied to one Node version: one build serves Node 20, 22 and 24.
//
//   node scripts/prebuilds.mjs          build/Release/*.node -> prebuilds/…/node.napi.<libc>.node
//   node scripts/prebuilds.mjs --clean  remove every prebuilds/ directory
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['codec', 'storage-io', 'mmap-reader'];
const libc = platform() === 'linux' ? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : '';

for (const name of ADDONS) {
  const pkg = join(root, 'packages', name);
  const out = join(pkg, 'prebuilds');
  rmSync(out, { recursive: true, force: true });
  if (process.argv.includes('--clean')) continue;
  const release = join(pkg, 'build', 'Release');
  const built = existsSync(release) ? readdirSync(release).filter((f) => f.endsWith('.node')) : [];
  if (built.length !== 1) {
    console.error(
      `${name}: expected one addon in ${release} (run the install first), found ${built.length}`,
    );
    process.exit(1);
  }
  const dir = join(out, `${platform()}-${arch()}`);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, ['node', 'napi', libc, 'node'].filter(Boolean).join('.'));
  copyFileSync(join(release, built[0]), target);
  try {
    // Debug symbols are most of the file and help no user; strip is optional.
    execFileSync('strip', ['--strip-debug', target], { stdio: 'ignore' });
  } catch {
    // no strip here: the binary works as it is
  }
  console.log(`${name}: ${target.slice(root.length + 1)} (${statSync(target).size} bytes)`);
}
