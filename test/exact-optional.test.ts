import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Applications compiled with `exactOptionalPropertyTypes` (and the published .d.ts, as a
 * user gets them) may pass an option as `undefined`, which every option check reads as
 * "not set" — a spread of defaults, say. The types must say so too.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repository (not the kit's tempDir() under the OS temp dir), so that `@walnut/wal`
// resolves through node_modules to the build.
const dir = mkdtempSync(join(root, 'test', '.exact-optional-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function diagnosticsOf(source: string): string[] {
  const file = join(dir, 'app.ts');
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('options under exactOptionalPropertyTypes', () => {
  it('accept undefined for an option not set, as the checks do', () => {
    const errors = diagnosticsOf(`
      import type { WalOptions } from '@walnut/wal';
      const fromEnv: number | undefined = process.env.SIZE ? Number(process.env.SIZE) : undefined;
      export const options: WalOptions = { maxRecordSize: fromEnv, durability: undefined };
    `);
    expect(errors).toEqual([]);
  });

  it('still refuse a value of the wrong type (the check is not vacuous)', () => {
    const errors = diagnosticsOf(`
      import type { WalOptions } from '@walnut/wal';
      export const options: WalOptions = { maxRecordSize: 'big' };
    `);
    expect(errors.join('\n')).toMatch(/not assignable/);
  });
});

describe('records under exactOptionalPropertyTypes', () => {
  it('type a field a frame does not carry as present and undefined, as readers hand it out', () => {
    const errors = diagnosticsOf(`
      import type { WalRecord } from '@walnut/codec';
      export function routed(record: WalRecord): string {
        return 'tenantId' in record ? record.tenantId.toString(16) : '';
      }
    `);
    expect(errors.join('\n')).toMatch(/possibly 'undefined'/);
  });

  it('take a record read back as the input of an append', () => {
    const errors = diagnosticsOf(`
      import type { WalRecord, WalRecordInput } from '@walnut/codec';
      export const again = (record: WalRecord): WalRecordInput => record;
    `);
    expect(errors).toEqual([]);
  });
});

describe('error details', () => {
  it('type the LSNs the READMEs do arithmetic on as bigints', () => {
    const errors = diagnosticsOf(`
      import { isWalError, WalErrorCode } from '@walnut/codec';
      export function goOn(error: unknown): bigint | null {
        if (!isWalError(error, WalErrorCode.CURSOR_BEHIND)) return null;
        const { lsn, floorLsn } = error.details;
        return lsn === undefined ? (floorLsn ?? null) : lsn - 1n;
      }
    `);
    expect(errors).toEqual([]);
  });
});
