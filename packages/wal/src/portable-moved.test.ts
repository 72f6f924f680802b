import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as portable from '@walnut/portable';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as wal from './index.js';

const src = dirname(fileURLToPath(import.meta.url));
const MOVED = [
  'PortableContent',
  'PortableWalStats',
  'PortableWalWriter',
  'PortableWalWriterConfig',
];

/** The names an editor strikes through as deprecated in `code`, a module beside this file. */
function deprecatedIn(code: string): string[] {
  const probe = join(src, 'deprecation-probe.ts');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@walnut/source'],
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  };
  const read = (name: string) => (name === probe ? code : ts.sys.readFile(name));
  const service = ts.createLanguageService({
    getCompilationSettings: () => options,
    getScriptFileNames: () => [probe],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const text = read(name);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => src,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: (name) => name === probe || ts.sys.fileExists(name),
    readFile: read,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  });
  const errors = service.getSemanticDiagnostics(probe).map((d) => d.messageText);
  expect(errors).toEqual([]);
  const names = service
    .getSuggestionDiagnostics(probe)
    .filter((d) => d.reportsDeprecated)
    .map((d) => code.slice(d.start, d.start! + d.length!).replace(/^type /, ''));
  return [...new Set(names)].sort();
}

const usingAll = (from: string) => `
import { type PortableContent, type PortableWalStats, PortableWalWriter, type PortableWalWriterConfig } from '${from}';
export type Used = [PortableContent, PortableWalStats, PortableWalWriterConfig, PortableWalWriter];
export const open = PortableWalWriter.open;
`;

describe('PortableWalWriter, moved to @walnut/portable', () => {
  it('is still exported by @walnut/wal: the same class', () => {
    expect(wal.PortableWalWriter).toBe(portable.PortableWalWriter);
  });

  it('is marked deprecated there, with its types, so that editors say where it went', () => {
    expect(deprecatedIn(usingAll('./index.js'))).toEqual(MOVED);
    expect(deprecatedIn(usingAll('@walnut/portable'))).toEqual([]);
  }, 60_000);
});
