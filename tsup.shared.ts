import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ES modules for Node 20 with type declarations and source
 * maps, `dist` emptied first. Each package's `tsup.config.ts` names its own entries (and,
 * where only some of them are public API, which of them get declarations).
 */
export function walnutBuild(entry: Options['entry'], dts: Options['dts'] = true) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts,
    clean: true,
    sourcemap: true,
    target: 'node20',
  });
}
