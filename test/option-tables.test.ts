import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OptionSpec } from '@walnut/codec';
import { CONFIG_OPTIONS } from '@walnut/segmented';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYNC_ZERO_FILL_AHEAD, WAL_OPTIONS } from '../packages/wal/src/options.js';

/**
 * Each option's default is declared once (segmented's CONFIG_OPTIONS, the Wal's WAL_OPTIONS,
 * which takes segmented's for what it passes on); the README tables restate them for
 * readers, and are held to the declarations here: the same options, the same defaults.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const MIB = 1024 * 1024;

/** The rows of the first table under the README's line that starts with `header`. */
function table(pkg: string, header: string): { name: string; default: string }[] {
  const readme = readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8');
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => line.startsWith(header));
  const rows: { name: string; default: string }[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [name = '', value = ''] = line
      .split('|')
      .slice(1)
      .map((cell) => cell.trim());
    rows.push({ name: /^`(\w+)/.exec(name)?.[1] ?? name, default: value });
  }
  return rows;
}

/** How a README writes a default value. */
function shown(value: unknown): string {
  if (value === undefined) return 'none';
  if (value === Date.now) return '`Date.now`';
  if (typeof value === 'string') return `\`'${value}'\``;
  if (typeof value === 'number')
    return value >= MIB && value % MIB === 0 ? `${value / MIB} MiB` : String(value);
  return `\`${String(value)}\``;
}

function expectTableHolds(
  rows: { name: string; default: string }[],
  options: Record<string, OptionSpec<unknown>>,
) {
  expect(rows.map((row) => row.name).sort()).toEqual(Object.keys(options).sort());
  for (const row of rows) {
    const declared = shown(options[row.name]!.default);
    // A cell may say more after the value, in parentheses.
    if (row.default !== declared)
      expect([row.name, row.default.slice(0, declared.length + 2)]).toEqual([
        row.name,
        `${declared} (`,
      ]);
  }
}

describe('the README option tables match the declarations', () => {
  it('@walnut/segmented: one row per config field, with its default', () => {
    const rows = table('segmented', '| field ');
    expect(rows[0]).toEqual({ name: 'dir', default: '—' });
    expectTableHolds(rows.slice(1), CONFIG_OPTIONS);
  });

  it('@walnut/wal: one row per setter, with its default', () => {
    const rows = table('wal', '| setter ');
    // ioUring is storageIo's second argument, documented in that row.
    const { ioUring: _, ...setters } = WAL_OPTIONS;
    expectTableHolds(rows, setters);
    const zeroFill = rows.find((row) => row.name === 'zeroFillAhead')!;
    expect(zeroFill.default).toContain(`${shown(DEFAULT_SYNC_ZERO_FILL_AHEAD)} under \`'sync'\``);
  });
});
