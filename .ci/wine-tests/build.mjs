// Bundles the library's test files, on Linux, into self-contained ES modules that Windows Node
// under Wine runs with run.mjs (decision 0009): vitest cannot start there (pnpm's symbolic
// links, rollup's and esbuild's Windows binaries), but a bundle needs neither.
//   node .ci/wine-tests/build.mjs <outdir> <test file>...
// Each test file becomes <outdir>/<its path with / as __>.mjs, importing `vitest` and
// `fast-check` from one shared copy each (./vitest.mjs is this directory's shim). Every
// bundled module keeps its own import.meta.url (a fixture beside a test, a package's
// addon), rebuilt at run time from its repository path, so the paths Windows Node sees are
// Windows paths (Z:\...).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// esbuild, as tsup (a root devDependency) has it.
const require = createRequire(createRequire(join(root, 'package.json')).resolve('tsup'));
const esbuild = require('esbuild');
// The shim's own imports (chai, @vitest/expect, ...) are vitest's dependencies.
const fromVitest = dirname(
  createRequire(join(root, 'package.json')).resolve('vitest/package.json'),
);

const [outdir, ...tests] = process.argv.slice(2);
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const META = {
  url: '__WALNUT_META_URL__',
  dirname: '__WALNUT_META_DIRNAME__',
  filename: '__WALNUT_META_FILENAME__',
};

/**
 * import.meta.* → a call with the module's repository path, after TypeScript is stripped, so
 * that the words in strings and comments stay as they are (esbuild's define replaces only code).
 */
const ownMeta = {
  name: 'own-import-meta',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta')) return undefined;
      const loader = args.path.endsWith('ts') ? 'ts' : 'js';
      const define = Object.fromEntries(
        Object.entries(META).map(([k, v]) => [`import.meta.${k}`, v]),
      );
      const { code } = await esbuild.transform(source, {
        loader,
        define,
        format: 'esm',
        sourcefile: args.path,
      });
      const at = JSON.stringify(relative(root, args.path).split('\\').join('/'));
      let out = code;
      for (const [key, marker] of Object.entries(META)) {
        out = out.replaceAll(marker, `globalThis.__walnutMeta.${key}(${at})`);
      }
      return { contents: out, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/**
 * `import('./x.js?another-copy')`, a second instance of a module as vitest gives it: the same
 * source, bundled again under its query (esbuild tells modules apart by path and suffix).
 */
const queried = {
  name: 'queried',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\/.*\?/ }, (args) => {
      const [path, query] = args.path.split('?');
      return { path: resolve(args.resolveDir, path.replace(/\.js$/, '.ts')), suffix: `?${query}` };
    });
  },
};

/** `vitest` and `fast-check` from one shared bundle each, beside the test bundles. */
const shared = {
  name: 'shared',
  setup(build) {
    build.onResolve({ filter: /^(vitest|fast-check)$/ }, (args) => ({
      path: `./${args.path}.mjs`,
      external: true,
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  logLevel: 'warning',
  // Bundled CommonJS (fast-check's dependencies, node-gyp-build) calls require.
  banner: {
    js: "import { createRequire as __walnutRequire } from 'node:module'; const require = __walnutRequire(import.meta.url);",
  },
};
await esbuild.build({
  ...common,
  entryPoints: { vitest: join(dirname(fileURLToPath(import.meta.url)), 'vitest.mjs') },
  nodePaths: [join(fromVitest, '..'), join(fromVitest, 'node_modules')],
  outdir,
  outExtension: { '.js': '.mjs' },
});
await esbuild.build({
  ...common,
  stdin: {
    contents: "export * from 'fast-check'; export { default } from 'fast-check';",
    resolveDir: join(root, 'packages/codec'),
  },
  outfile: join(outdir, 'fast-check.mjs'),
});
const entries = Object.fromEntries(
  tests.map((t) => [t.replace(/\.ts$/, '').split('/').join('__'), t]),
);
await esbuild.build({
  ...common,
  entryPoints: entries,
  outdir,
  outExtension: { '.js': '.mjs' },
  conditions: ['@walnut/source'],
  plugins: [shared, queried, ownMeta],
});
writeFileSync(
  join(outdir, 'files.json'),
  JSON.stringify(Object.entries(entries).map(([out, path]) => ({ path, bundle: `${out}.mjs` }))),
);
