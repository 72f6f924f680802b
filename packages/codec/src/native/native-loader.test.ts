import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { addonSwitch, loadAddon, nativeFallbacks, packageRootOf } from './native-loader.js';
import { currentRuntime } from './runtime.js';

// Not the kit's tempDir(): the codec sits below storage-io, and its tests import nothing above it.
const empty = mkdtempSync(join(tmpdir(), 'walnut-no-addon-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

const saved = { all: process.env.WALNUT_NATIVE, one: process.env.WALNUT_MMAP_READER_NATIVE };
afterEach(() => {
  for (const [key, value] of [
    ['WALNUT_NATIVE', saved.all],
    ['WALNUT_MMAP_READER_NATIVE', saved.one],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

function warningsDuring(run: () => void): Error[] {
  const seen: Error[] = [];
  const listen = (warning: Error) => seen.push(warning);
  process.on('warning', listen);
  try {
    run();
  } finally {
    process.off('warning', listen);
  }
  return seen;
}

describe('loading a native addon', () => {
  it('falls back, says why, and warns once per addon in words for whoever installed the package', async () => {
    const warnings: Error[] = [];
    process.on('warning', (w) => warnings.push(w));
    const first = loadAddon({ name: 'mmap-reader', packageRoot: empty, fallback: 'reads files' });
    const second = loadAddon({ name: 'mmap-reader', packageRoot: empty, fallback: 'reads files' });
    await new Promise((resolve) => setImmediate(resolve));
    for (const load of [first, second]) {
      expect(load).toMatchObject({ binding: null, disabled: false });
      expect(load.reason).toContain('No native build was found');
      expect(load.reason).toContain('reads files');
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'WALNUT_NATIVE_FALLBACK');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toContain('npm rebuild @walnut/mmap-reader');
    expect(ours[0]!.message).toContain('WALNUT_MMAP_READER_NATIVE=0');
    expect(ours[0]!.message).not.toContain('pnpm@10'); // no monorepo instructions
  });

  it.each([
    ['WALNUT_NATIVE', '0'],
    ['WALNUT_MMAP_READER_NATIVE', 'off'],
  ])('is turned off by %s=%s, without a warning', async (variable, value) => {
    process.env[variable] = value;
    const seen = warningsDuring(() => {
      const load = loadAddon({ name: 'mmap-reader', packageRoot: empty, fallback: 'reads files' });
      expect(load).toMatchObject({ binding: null, disabled: true });
      expect(load.reason).toContain(`${variable}=${value}`);
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
  });

  it('keeps every fallback for an application that subscribes after importing', () => {
    process.env.WALNUT_MMAP_READER_NATIVE = '0';
    const before = nativeFallbacks().length;
    loadAddon({ name: 'mmap-reader', packageRoot: empty, fallback: 'reads files' });
    expect(nativeFallbacks().slice(before)).toEqual([
      { addon: 'mmap-reader', reason: 'turned off by WALNUT_MMAP_READER_NATIVE=0' },
    ]);
  });

  it('on Deno, names the permission flags Deno asked for instead of a compiler', async () => {
    vi.stubGlobal('Deno', { version: { deno: '2.9.6' } });
    const warnings: Error[] = [];
    const listen = (w: Error) => warnings.push(w);
    process.on('warning', listen);
    try {
      const load = loadAddon({
        name: 'storage-io',
        packageRoot: fileURLToPath(new URL('../..', import.meta.url)), // this package: built
        fallback: 'runs sync-fs',
        check() {
          throw Object.assign(
            new Error(
              'Requires env access to "PREBUILDS_ONLY", run again with the --allow-env flag',
            ),
            { name: 'NotCapable' },
          );
        },
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(load.binding).toBeNull();
      // Under Bun (CI runs this suite there too) the stub cannot hide Bun, which is checked first.
      if (currentRuntime().name === 'bun') {
        expect(load.reason).toContain('(Requires env access to "PREBUILDS_ONLY"');
        return;
      }
      expect(load.reason).toContain(
        'Deno 2.9.6 withheld a permission it needs: run with --allow-env and --allow-ffi (or -A)',
      );
      const ours = warnings.filter(
        (w) => (w as { code?: string }).code === 'WALNUT_NATIVE_FALLBACK',
      );
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(/^@walnut\/storage-io: Deno 2\.9\.6 did not let it load/);
      expect(ours[0]!.message).toContain('--allow-env and --allow-ffi (or -A)');
      expect(ours[0]!.message).not.toContain('compiler');
    } finally {
      process.off('warning', listen);
      vi.unstubAllGlobals();
    }
  });

  it('names one switch per addon the same way', () => {
    expect(['codec', 'storage-io', 'mmap-reader'].map((n) => addonSwitch(n as never))).toEqual([
      'WALNUT_CODEC_NATIVE',
      'WALNUT_STORAGE_IO_NATIVE',
      'WALNUT_MMAP_READER_NATIVE',
    ]);
  });
});

describe('packageRootOf', () => {
  it('finds the package from a module in its sources and from one in its bundle', () => {
    const pkg = resolve(fileURLToPath(new URL('../..', import.meta.url)));
    expect(packageRootOf(import.meta.url)).toBe(pkg);
    expect(packageRootOf(pathToFileURL(join(pkg, 'dist', 'index.js')).href)).toBe(pkg);
  });

  it('answers the directory of the module when no package.json is above it', () => {
    expect(packageRootOf(pathToFileURL(join(empty, 'index.js')).href)).toBe(empty);
  });
});
