import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * What each operating system gets from the three addons, shown the way this Linux machine
 * can: gyp configures each package for Linux, macOS and Windows (`node-gyp configure --
 * -DOS=…`), and the generated makefiles say which sources are compiled and whether a
 * binary is linked at all. On Windows none is: the packages run on their fallbacks.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = tempDir('walnut-gyp-');
afterAll(removeTempDirs);

function firstExisting(candidates: (string | undefined)[]): string | undefined {
  return candidates.find((path) => path !== undefined && existsSync(path));
}

const prefix = resolve(process.execPath, '..', '..');
const nodeGyp = firstExisting([
  join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
]);
const nodeDir = [prefix, '/usr', '/usr/local'].find(
  (dir) => dir !== undefined && existsSync(join(dir, 'include/node/node_api.h')),
);

/** Sources compiled and whether a binary is linked, for `pkg` configured as `os`. */
function configure(pkg: string, os: 'linux' | 'mac' | 'win') {
  const copy = join(work, `${pkg}-${os}`);
  cpSync(join(root, 'packages', pkg), copy, {
    recursive: true,
    filter: (path) => !/\/(build|node_modules|prebuilds|dist)$/.test(path),
  });
  // storage-io and mmap-reader find codec's N-API header through its package: give the copy
  // one to find.
  cpSync(join(root, 'packages', 'codec'), join(copy, 'node_modules', '@walnut', 'codec'), {
    recursive: true,
    filter: (path) => !/\/(build|node_modules|prebuilds|dist|src)$/.test(path),
  });
  execFileSync(
    process.execPath,
    [nodeGyp!, 'configure', `--nodedir=${nodeDir}`, '--', `-DOS=${os}`],
    {
      cwd: copy,
      stdio: 'pipe',
    },
  );
  const makefile = readdirSync(join(copy, 'build'))
    .filter((name) => name.endsWith('.target.mk'))
    .map((name) => readFileSync(join(copy, 'build', name), 'utf8'))
    .join('\n');
  // Objects of codec's C sources (found through the package) read as `codec/native/…`.
  const sources = [...new Set(makefile.match(/[\w/.@-]*native\/\w+\.o\b/g) ?? [])]
    .map((object) => object.replace(/^.*?((?:codec\/)?native\/\w+\.o)$/, '$1'))
    .sort();
  return { sources, links: /LINK|\.node\b/.test(makefile) };
}

describe.runIf(nodeGyp !== undefined && nodeDir !== undefined)(
  'what each operating system builds (gyp conditions)',
  () => {
    it('storage-io: io_uring on Linux only; flock and aligned buffers on macOS; nothing on Windows', () => {
      expect(configure('storage-io', 'linux')).toEqual({
        sources: ['native/addon.o', 'native/ring.o'],
        links: true,
      });
      expect(configure('storage-io', 'mac')).toEqual({ sources: ['native/addon.o'], links: true });
      expect(configure('storage-io', 'win').links).toBe(false);
    });

    it("mmap-reader: mapping on Linux and macOS (frames walked by the codec's addon); nothing on Windows", () => {
      for (const os of ['linux', 'mac'] as const)
        expect(configure('mmap-reader', os)).toEqual({
          sources: ['native/mmap_reader.o'],
          links: true,
        });
      expect(configure('mmap-reader', 'win').links).toBe(false);
    });

    it('codec: everywhere but Windows', () => {
      const sources = ['native/codec_addon.o', 'native/crc32c.o', 'native/frame_walk.o'];
      expect(configure('codec', 'linux')).toEqual({ sources, links: true });
      expect(configure('codec', 'mac')).toEqual({ sources, links: true });
      expect(configure('codec', 'win').links).toBe(false);
    });

    it('compiles each C source into one addon only (decision 0114)', () => {
      const compiled = (['codec', 'storage-io', 'mmap-reader'] as const).flatMap((pkg) =>
        configure(pkg, 'linux').sources.map((object) =>
          object.startsWith('codec/') ? object : `${pkg}/${object}`,
        ),
      );
      expect(compiled.length).toBe(new Set(compiled).size);
    });
  },
);

it('has node-gyp and Node headers to check the gyp conditions with (this machine must)', () => {
  // CI runs on the machines the README names, which have both; say so if not.
  expect({ nodeGyp, nodeDir }).toEqual({
    nodeGyp: expect.any(String),
    nodeDir: expect.any(String),
  });
});
