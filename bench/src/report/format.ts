/** Number formatting shared by the Markdown and SVG reports. */

/** A duration given in µs, in µs below a millisecond and in ms from there. */
export function formatMicros(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return '—';
  if (unit === 'µs') return formatMicros(value);
  if (unit === 'MB/s') return `${value.toFixed(value >= 100 ? 0 : 1)} MB/s`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M ${unit}`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(0)} k ${unit}`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k ${unit}`;
  return `${value.toFixed(0)} ${unit}`;
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '—';
  return ratio >= 10 ? `${ratio.toFixed(1)}×` : `${ratio.toFixed(2)}×`;
}

export function formatSpread(spread: number | null): string {
  return spread === null ? '' : `±${((spread / 2) * 100).toFixed(1)}%`;
}
