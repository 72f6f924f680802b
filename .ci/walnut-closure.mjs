// Prints the tarballs one package needs from the packed set, one a line: its own and those of
// every @walnut package it depends on (not its optional peers), so that it can be installed
// alone as a user would, with the rest from the registry.
//   node .ci/walnut-closure.mjs <package dir name> <tarball dir>
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, tarballs] = process.argv.slice(2);
const files = readdirSync(tarballs);
const seen = new Set();
const visit = (dir) => {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join('packages', dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {}))
    if (dep.startsWith('@walnut/')) visit(dep.slice('@walnut/'.length));
};
visit(name);
for (const dir of seen) {
  const tarball = files.find((f) => f.startsWith(`walnut-${dir}-`) && f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`no tarball for @walnut/${dir} in ${tarballs}`);
  console.log(join(tarballs, tarball));
}
