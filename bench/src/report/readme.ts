/** Puts the latest full run's table into bench/README.md, between two markers. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { BenchResults } from '../results.js';
import { machineLine, summaryTable } from './markdown.js';

const START = '<!-- bench-results:start -->';
const END = '<!-- bench-results:end -->';

export function readmeSection(results: BenchResults, jsonName: string): string {
  return [
    `Run of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${machineLine(results)}; ` +
      `code ${results.revision}. Every run, with its durability evidence, is in ` +
      `[results/${jsonName}](results/${jsonName}).`,
    '',
    '![Ratios to the node:fs floor](results/latest.svg)',
    '',
    summaryTable(results),
  ].join('\n');
}

/** Returns false (and leaves the file alone) when the markers are missing. */
export function updateReadme(readmePath: string, section: string): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  writeFileSync(
    readmePath,
    `${text.slice(0, start + START.length)}\n${section}\n${text.slice(end)}`,
  );
  return true;
}
