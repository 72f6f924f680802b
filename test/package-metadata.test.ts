import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** What every published package carries, so that its tarball stands on its own (issue #18). */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
const packages = readdirSync(join(root, 'packages')).map((dir) => ({
  dir,
  manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')),
}));
const ADDONS = ['codec', 'storage-io', 'mmap-reader'];

describe.each(packages)('packages/$dir', ({ dir, manifest }) => {
  it('ships the same Apache-2.0 LICENSE as the repository', () => {
    expect(manifest.license).toBe('Apache-2.0');
    expect(manifest.files).toContain('LICENSE');
    expect(readFileSync(join(root, 'packages', dir, 'LICENSE'), 'utf8')).toBe(license);
  });

  it('says where it lives and how to find it', () => {
    expect(manifest.repository).toMatchObject({ type: 'git', directory: `packages/${dir}` });
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.bugs.url).toMatch(/^https:\/\//);
    expect(manifest.keywords.length).toBeGreaterThan(2);
  });

  it('exports ./package.json and a default condition beside import on every entry', () => {
    expect(manifest.exports['./package.json']).toBe('./package.json');
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      if (subpath === './package.json') continue;
      expect((conditions as Record<string, string>).default).toBe(
        (conditions as Record<string, string>).import,
      );
    }
  });
});

describe.each(packages.filter(({ dir }) => ADDONS.includes(dir)))(
  'addon package $dir',
  ({ manifest }) => {
    it('ships its prebuilds and never fails an install', () => {
      expect(manifest.files).toContain('prebuilds');
      expect(manifest.scripts.install).toBe('node-gyp-build || exit 0');
    });
  },
);
