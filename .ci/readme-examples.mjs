// The READMEs as a user reads them: from the packages installed out of the packed tarballs.
//   node .ci/readme-examples.mjs <project>   (a project where the tarballs were installed)
// 1. Every relative link of an installed README names a file the tarball ships.
// 2. Every ```js / ```ts example runs as written, as an ES module of that project (TypeScript
//    through esbuild's type stripping), in a fresh working directory, within a minute —
//    except one the README marks, on the line above it, `<!-- example: fragment (why) -->`.
// Prints what it ran and skipped, and exits non-zero on the first broken link or example.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = resolve(process.argv[2] ?? '');
const scope = join(project, 'node_modules', '@walnut');
if (!existsSync(scope)) {
  console.error(`readme-examples: no @walnut packages installed in ${project}`);
  process.exit(2);
}
const monorepo = join(dirname(fileURLToPath(import.meta.url)), '..');
const fromTsup = createRequire(createRequire(join(monorepo, 'package.json')).resolve('tsup'));
const { transformSync } = fromTsup('esbuild');

const FENCE = /^```(js|ts)\n([\s\S]*?)^```$/gm;
const LINK = /\]\(([^)\s]+)\)/g;
const FRAGMENT = /<!-- example: fragment \((.+)\) -->\s*$/;
let failures = 0;
let ran = 0;
const fragments = [];

for (const name of readdirSync(scope).sort()) {
  const dir = join(scope, name);
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(LINK)) {
    if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
    const path = target.split('#')[0];
    if (!existsSync(join(dir, path))) {
      console.error(`@walnut/${name} README links ${target}, which its tarball does not ship`);
      failures++;
    }
  }
  let index = 0;
  for (const match of readme.matchAll(FENCE)) {
    index++;
    const where = `@walnut/${name} README example ${index}`;
    const before = readme.slice(0, match.index).trimEnd().split('\n').at(-1) ?? '';
    const fragment = FRAGMENT.exec(before);
    if (fragment !== null) {
      fragments.push(`${where}: ${fragment[1]}`);
      continue;
    }
    const code =
      match[1] === 'ts'
        ? transformSync(match[2], { loader: 'ts', format: 'esm', target: 'node20' }).code
        : match[2];
    const cwd = mkdtempSync(join(tmpdir(), 'walnut-readme-example-'));
    // Inside the project, so that `@walnut/*` resolves to the installed tarballs.
    const file = join(project, `readme-example-${name}-${index}.mjs`);
    writeFileSync(file, code);
    const run = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: 60_000 });
    rmSync(file, { force: true });
    rmSync(cwd, { recursive: true, force: true });
    if (run.status === 0) {
      ran++;
      continue;
    }
    failures++;
    const why = run.error ? run.error.message : `exit ${run.status ?? run.signal}`;
    console.error(
      `${where} failed (${why}):\n${run.stderr.trim().split('\n').slice(0, 12).join('\n')}`,
    );
  }
}
for (const line of fragments) console.log(`not run, ${line}`);
console.log(`readme examples: ${ran} ran, ${fragments.length} fragments, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
