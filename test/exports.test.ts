import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * A package's types must never promise a value its JavaScript does not export: `export type
 * { KeyRing }` once let `import { KeyRing } from '@walnut/wal'` type-check and then throw in
 * Node. For every entry point, every exported name that is a value in the types (a class,
 * function, constant or enum) must be there at runtime.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface EntryPoint {
  readonly specifier: string;
  readonly source: string;
}

function entryPoints(): EntryPoint[] {
  const entries: EntryPoint[] = [];
  for (const dir of readdirSync(join(root, 'packages'))) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
      const source = (conditions as Record<string, string>)['@walnut/source'];
      if (source === undefined) continue;
      entries.push({
        specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
        source: join(root, 'packages', dir, source),
      });
    }
  }
  return entries;
}

/** Names the types export as values (through type-only re-exports too: that is the bug). */
function valueExports(program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return checker
    .getExportsOfModule(module)
    .filter((symbol) => {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    })
    .map((symbol) => symbol.name)
    .sort();
}

const entries = entryPoints();
const program = ts.createProgram(
  entries.map((entry) => entry.source),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@walnut/source'],
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  },
);

describe('every package exports at runtime what its types export as values', () => {
  it.each(entries.map((entry) => [entry.specifier, entry] as const))('%s', async (_, entry) => {
    const runtime = await import(pathToFileURL(entry.source).href);
    const missing = valueExports(program, entry.source).filter((name) => !(name in runtime));
    expect(missing).toEqual([]);
  });
});
