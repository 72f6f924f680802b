/** The human-readable results: machine, contenders, and the table of medians and ratios. */
import type { BenchResults } from '../results.js';
import { formatRatio, formatSpread, formatValue } from './format.js';
import { alignedTable, type Column } from './table.js';

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function machineLine(results: BenchResults): string {
  const m = results.machine;
  return (
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, ` +
    `${m.fileSystem} on ${m.device}, Node ${m.node.replace(/^v/, '')}`
  );
}

const SUMMARY_COLUMNS: readonly Column[] = [
  { title: 'workload', align: 'left' },
  { title: 'contender', align: 'left' },
  { title: 'median', align: 'right' },
  { title: 'spread (reps)', align: 'left' },
  { title: 'vs floor', align: 'right' },
  { title: 'details', align: 'left' },
  { title: 'durability', align: 'left' },
];

export function summaryTable(results: BenchResults): string {
  const rows = results.summary.map((row) => [
    row.row,
    escapeCell(row.label),
    formatValue(row.median, row.unit),
    row.reps > 1 ? `${formatSpread(row.spread)} (${row.reps})` : `(${row.reps})`,
    row.ranked ? formatRatio(row.ratio) : 'not ranked',
    escapeCell(row.details),
    escapeCell(row.status),
  ]);
  return alignedTable(SUMMARY_COLUMNS, rows);
}

export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  out.push(`# Walnut bench — ${results.startedAt.slice(0, 10)} (${results.mode})`, '');
  out.push(`Machine: ${machineLine(results)}${results.machine.root ? ' (root)' : ''}.`);
  out.push(`Code: ${results.revision}. Data directory: \`${results.dataDir}\`.`, '');
  if (results.slowDisk !== undefined) {
    out.push(
      `Slow disk: crashfs with \`--fsync-delay-ms ${results.slowDisk.fsyncDelayMs}\` (every fsync and fdatasync ${results.slowDisk.fsyncDelayMs} ms longer).`,
      '',
    );
  }
  out.push('## Workloads', '');
  for (const spec of Object.values(results.workloads)) {
    const reps = spec.repetitions > 1 ? ` (${spec.repetitions} repetitions)` : '';
    out.push(`- **${spec.id}** ${spec.title}${reps}`);
  }
  out.push('', '## Contenders', '');
  for (const contender of results.contenders) {
    const versions = Object.entries(contender.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ');
    out.push(
      contender.available
        ? `- **${contender.label}** (${versions})${contender.notes.length ? `: ${contender.notes.join('; ')}` : ''}`
        : `- **${contender.label}**: not available: ${contender.reason}`,
    );
  }
  out.push('', '## Medians', '');
  out.push(
    'Ratios compare a contender’s median with the node:fs floor’s median from the same run, ' +
      'and higher is better in every row: W1–W5 are throughputs (W2 durable appends per ' +
      'second, W5 MB/s, the rest records/s), divided by the floor’s. W6 is a delay (the ' +
      'event-loop delay p99 while appending durably at a fixed rate beside an HTTP endpoint), ' +
      'so its ratio is the other way round, the floor’s delay divided by the contender’s: ' +
      '4× is a quarter of the floor’s delay. ' +
      'Spread is the range (max − min) of the repetitions over the median.',
    '',
  );
  out.push(summaryTable(results), '');
  if (results.skippedRuns.length > 0) {
    out.push(
      `Skipped to stay within the quick run's time budget: ${results.skippedRuns.join(', ')}.`,
      '',
    );
  }
  if (!results.build.ok) out.push(`Build of the Walnut packages: ${results.build.detail}`, '');
  out.push(`Started ${results.startedAt}, finished ${results.finishedAt}.`, '');
  return out.join('\n');
}
