/**
 * A horizontal bar chart of the ratios to the floor, one group per workload, on a log scale
 * (ratios span orders of magnitude). Plain SVG, written by hand: no chart dependency.
 */
import type { BenchResults, SummaryRow } from '../results.js';
import { formatRatio, formatValue } from './format.js';
import { machineLine } from './markdown.js';

const PALETTE = [
  '#6b7280',
  '#2563eb',
  '#16a34a',
  '#d97706',
  '#9333ea',
  '#dc2626',
  '#0891b2',
  '#db2777',
];
const WIDTH = 900;
/** Right edge of the contender labels; the workload names sit left of them. */
const LABEL_RIGHT = 262;
const BAR_HEIGHT = 14;
const BAR_GAP = 3;
const GROUP_GAP = 14;
const TOP = 64;
const MIN_RATIO = 0.01;
const MAX_RATIO = 10;

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** The floor's bar also says what 1× is, in absolute terms. */
function valueLabel(row: SummaryRow, floorId: string): string {
  const ratio = formatRatio(row.ratio);
  return row.contender === floorId ? `${ratio} = ${formatValue(row.median, row.unit)}` : ratio;
}

export function renderSvg(results: BenchResults, floorId: string): string {
  const plotLeft = LABEL_RIGHT + 10;
  const plotWidth = WIDTH - plotLeft - 70;
  const logMin = Math.log10(MIN_RATIO);
  const logSpan = Math.log10(MAX_RATIO) - logMin;
  const x = (ratio: number) => {
    const clamped = Math.min(MAX_RATIO, Math.max(MIN_RATIO, ratio));
    return plotLeft + ((Math.log10(clamped) - logMin) / logSpan) * plotWidth;
  };
  const colors = new Map(results.contenders.map((c, i) => [c.id, PALETTE[i % PALETTE.length]!]));
  const groups = new Map<string, SummaryRow[]>();
  for (const row of results.summary) groups.set(row.row, [...(groups.get(row.row) ?? []), row]);

  const body: string[] = [];
  let y = TOP;
  for (const [name, rows] of groups) {
    const groupTop = y;
    for (const row of rows) {
      const color = colors.get(row.contender) ?? '#000';
      body.push(
        `<text x="${LABEL_RIGHT}" y="${y + BAR_HEIGHT - 3}" text-anchor="end" class="l">${escapeXml(row.label)}</text>`,
      );
      if (row.ranked && row.ratio !== null) {
        const end = x(row.ratio);
        body.push(
          `<rect x="${plotLeft}" y="${y}" width="${Math.max(1, end - plotLeft).toFixed(1)}" height="${BAR_HEIGHT}" fill="${color}"/>`,
          `<text x="${(end + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 3}" class="v">${valueLabel(row, floorId)}</text>`,
        );
      } else {
        // 'not durable', 'failed', 'skipped', 'durability unverified': the words before any detail.
        const why = `${row.status.split(/[:(]/)[0]?.trim() || 'not available'} — not ranked`;
        body.push(`<text x="${plotLeft + 4}" y="${y + BAR_HEIGHT - 3}" class="n">${why}</text>`);
      }
      y += BAR_HEIGHT + BAR_GAP;
    }
    body.push(
      `<text x="8" y="${((groupTop + y) / 2 + 4).toFixed(1)}" class="g">${escapeXml(name)}</text>`,
    );
    y += GROUP_GAP;
  }
  const plotBottom = y - GROUP_GAP;
  const grid: string[] = [];
  for (const tick of [0.01, 0.03, 0.1, 0.3, 1, 3, 10]) {
    const gx = x(tick).toFixed(1);
    const strong = tick === 1;
    grid.push(
      `<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="${strong ? '#111' : '#ddd'}" stroke-width="${strong ? 1.5 : 1}"/>`,
      `<text x="${gx}" y="${TOP - 10}" text-anchor="middle" class="t">${tick}×</text>`,
    );
  }
  const height = plotBottom + 34;
  const title = `Walnut bench: relative to the node:fs floor (log scale, higher is better)`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.l{font-size:11px;fill:#222}.v{font-size:10px;fill:#222;paint-order:stroke;stroke:#fff;stroke-width:3px}.n{font-size:10px;fill:#b91c1c}.g{font-size:13px;font-weight:600;fill:#111}.t{font-size:10px;fill:#555}.h{font-size:13px;font-weight:600}.m{font-size:10px;fill:#555}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="18" class="h">${escapeXml(title)}</text>`,
    `<text x="8" y="34" class="m">${escapeXml(`${machineLine(results)} — ${results.startedAt.slice(0, 10)}, ${results.mode} run, medians`)}</text>`,
    ...grid,
    ...body,
    `<text x="8" y="${height - 10}" class="m">W1 buffered 128 B · W2 fsync each · W3 64 producers group commit · W4 replay · W5 64 KiB records (MB/s) · W6 event-loop delay p99 while ingesting (floor ÷ contender)</text>`,
    '</svg>',
    '',
  ].join('\n');
}
