/**
 * A Markdown table with every column padded to its widest cell, as the repository's
 * formatter (Biome) writes tables: a generated README section then passes `pnpm lint`
 * without a formatting pass.
 */
export type Align = 'left' | 'right';

export interface Column {
  readonly title: string;
  readonly align: Align;
}

function pad(text: string, width: number, align: Align): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

export function alignedTable(columns: readonly Column[], rows: readonly string[][]): string {
  const widths = columns.map((column, i) =>
    Math.max(3, column.title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => pad(cell, widths[i]!, columns[i]!.align)).join(' | ')} |`;
  const rule = columns.map((column, i) =>
    column.align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!),
  );
  return [
    line(columns.map((column) => column.title)),
    `| ${rule.join(' | ')} |`,
    ...rows.map((row) => line(columns.map((_, i) => row[i] ?? ''))),
  ].join('\n');
}
