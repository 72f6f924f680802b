/** Number formatting shared by the Markdown and SVG reports. */

export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return '—';
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
