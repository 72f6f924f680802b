import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type AddonSpec, addonSwitch, loadAddon, nativeFallbacks } from './native-loader.js';
import { currentRuntime } from './runtime.js';

// Not the kit's tempDir(): the codec sits below storage-io, and its tests import nothing above it.
const empty = mkdtempSync(join(tmpdir(), 'walnut-no-addon-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));
const inEmpty: AddonSpec<unknown> = {
  name: 'mmap-reader',
  from: { packageRoot: empty },
  fallback: 'reads files',
  functions: {},
};
const codecRoot = fileURLToPath(new URL('../..', import.meta.url));

const saved = { all: process.env.WALNUT_NATIVE, one: process.env.WALNUT_MMAP_READER_NATIVE };
// The loader warns once per addon and process: each warning test takes a loader of its own.
async function warningOf(spec: AddonSpec<unknown>): Promise<string> {
  vi.resetModules();
  const fresh = await import('./native-loader.js');
  const seen: Error[] = [];
  const listen = (warning: Error) => seen.push(warning);
  process.on('warning', listen);
  try {
    fresh.loadAddon(spec);
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  const ours = seen.filter((w) => (w as { code?: string }).code === 'WALNUT_NATIVE_FALLBACK');
  expect(ours).toHaveLength(1);
  return ours[0]!.message;
}

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
    const first = loadAddon(inEmpty);
    const second = loadAddon(inEmpty);
    await new Promise((resolve) => setImmediate(resolve));
    for (const load of [first, second]) {
      expect(load).toMatchObject({ binding: null, disabled: false });
      expect(load.reason).toContain('No native build was found');
      expect(load.reason).toContain('reads files');
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'WALNUT_NATIVE_FALLBACK');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(
      // Off Node the runtime follows in parentheses: "… in <dir> (on Bun 1.4.5), so …".
      `@walnut/mmap-reader: found no build for ${process.platform}-${process.arch} in ${empty}`,
    );
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
      const load = loadAddon(inEmpty);
      expect(load).toMatchObject({ binding: null, disabled: true });
      expect(load.reason).toContain(`${variable}=${value}`);
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
  });

  it('keeps every fallback for an application that subscribes after importing', () => {
    process.env.WALNUT_MMAP_READER_NATIVE = '0';
    const before = nativeFallbacks().length;
    loadAddon(inEmpty);
    expect(nativeFallbacks().slice(before)).toEqual([
      { addon: 'mmap-reader', reason: 'turned off by WALNUT_MMAP_READER_NATIVE=0' },
    ]);
  });

  it('lists a fallback once, however often the addon is asked for', () => {
    process.env.WALNUT_MMAP_READER_NATIVE = 'no';
    const before = nativeFallbacks().length;
    loadAddon(inEmpty);
    loadAddon(inEmpty);
    expect(nativeFallbacks().slice(before)).toEqual([
      { addon: 'mmap-reader', reason: 'turned off by WALNUT_MMAP_READER_NATIVE=no' },
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
        from: { packageRoot: codecRoot }, // built
        fallback: 'runs sync-fs',
        functions: {},
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

describe('where the loader looks', () => {
  // A bundle carries the loading module into the application: what it then has is the URL of
  // the bundle (ES modules) or none (CommonJS), never the package's directory.
  /** A package named `name` holding an addon (the codec's) in build/Release, and its bundle's URL. */
  function packageWithAddon(name: string): { dir: string; bundle: string } {
    const dir = mkdtempSync(join(tmpdir(), 'walnut-package-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name }));
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    copyFileSync(
      join(codecRoot, 'build', 'Release', 'walnut_codec.node'),
      join(dir, 'build', 'Release', 'addon.node'),
    );
    return { dir, bundle: pathToFileURL(join(dir, 'dist', 'server.mjs')).href };
  }

  it('looks in the directory of the package the module belongs to', () => {
    const pkg = packageWithAddon('@walnut/codec');
    try {
      const load = loadAddon({ ...inEmpty, name: 'codec', from: { moduleUrl: pkg.bundle } });
      expect(load.path).toBe(join(pkg.dir, 'build', 'Release', 'addon.node'));
    } finally {
      rmSync(pkg.dir, { recursive: true, force: true });
    }
  });

  it('does not throw where import.meta.url is empty (a CommonJS bundle) and says so', () => {
    const load = loadAddon({ ...inEmpty, from: { moduleUrl: undefined } });
    expect(load).toMatchObject({ binding: null, disabled: false });
    expect(load.reason).toBe(
      "the native addon was not looked for: @walnut/mmap-reader's directory is unknown (the module's URL (import.meta.url) is empty, as in a CommonJS bundle; bundled? mark @walnut/* as external); reads files",
    );
  });

  it("never loads an application's addon for its own when bundled into it", () => {
    const app = packageWithAddon('my-app');
    try {
      const load = loadAddon({ ...inEmpty, name: 'codec', from: { moduleUrl: app.bundle } });
      expect(load.binding).toBeNull();
      expect(load.reason).toContain(
        `(it runs from ${join(app.dir, 'dist', 'server.mjs')}, which belongs to ${join(app.dir, 'package.json')}, not to @walnut/codec; bundled? mark @walnut/* as external)`,
      );
    } finally {
      rmSync(app.dir, { recursive: true, force: true });
    }
  });

  it('refuses a binary that lacks the functions the package declares', () => {
    const load = loadAddon({
      ...inEmpty,
      from: { packageRoot: codecRoot },
      functions: { mapFile: true, advise: true, crc32cOf: true },
    });
    expect(load.binding).toBeNull();
    expect(load.reason).toContain(
      "(it lacks mapFile(), advise(): it is not @walnut/mmap-reader's addon)",
    );
  });
});

describe('the fallback warning names the cause and the cure', () => {
  it('for a bundle: where it ran, and to leave Walnut out of the bundle, not a compiler', async () => {
    const message = await warningOf({ ...inEmpty, name: 'codec', from: { moduleUrl: undefined } });
    expect(message).toMatch(
      /^@walnut\/codec: could not tell where its package is \(bundled\?\)( \(on [^)]+\))?, so it runs on its JavaScript fallback/,
    );
    expect(message).toContain(
      "Cause: the module's URL (import.meta.url) is empty, as in a CommonJS bundle",
    );
    expect(message).toContain(
      "Mark @walnut/* as external in the bundler\n  (esbuild: --external:'@walnut/*')",
    );
    expect(message).not.toContain('compiler');
  });

  it('for a dependency that cannot be resolved: to install again, not a compiler', async () => {
    vi.doMock('node:module', () => ({
      createRequire: () => (id: string) => {
        throw new Error(`Cannot find module '${id}'\nRequire stack: …`);
      },
    }));
    try {
      const message = await warningOf({ ...inEmpty, name: 'storage-io' });
      expect(message).toMatch(
        /^@walnut\/storage-io: could not load node-gyp-build, which finds its addon( \(on [^)]+\))?, so/,
      );
      expect(message).toContain("Cause: Cannot find module 'node-gyp-build'\n");
      expect(message).toContain('node-gyp-build is missing: install again');
      expect(message).not.toContain('compiler');
    } finally {
      vi.doUnmock('node:module');
    }
  });
});
