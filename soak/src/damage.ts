import type { Rng } from './random.js';

/** One kind of harm done to a log's files. */
export type Damage =
  | { kind: 'flip'; file: string; offset: number; bit: number }
  | { kind: 'zero'; file: string; offset: number; length: number }
  | { kind: 'truncate'; file: string; length: number }
  | { kind: 'remove'; file: string };

export type LogFiles = ReadonlyMap<string, Buffer>;

/**
 * Draws 1-3 damages (a third of the plans combine several) over the segments of a log:
 * single bit flips, zeroed runs (some of whole sectors), truncations, and the removal of a
 * middle segment (never the first or the last: a log without its first or last segment is
 * indistinguishable from a shorter or truncated one). Deterministic for the generator's state.
 */
export function planDamage(rng: Rng, segments: readonly string[], files: LogFiles): Damage[] {
  const count = rng.chance(0.33) ? rng.int(2, 3) : 1;
  const plan: Damage[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rng.weighted([
      ['flip', 35],
      ['zero', 30],
      ['truncate', 20],
      ['remove', segments.length >= 3 ? 15 : 0],
    ] as const);
    if (kind === 'remove') {
      plan.push({ kind, file: segments[rng.int(1, segments.length - 2)]! });
      continue;
    }
    const file = rng.pick(segments);
    const size = files.get(file)!.length;
    if (kind === 'flip') {
      plan.push({ kind, file, offset: rng.int(0, size - 1), bit: rng.int(0, 7) });
    } else if (kind === 'zero') {
      const sectors = rng.chance(0.3);
      const length = sectors ? 512 * rng.int(1, 8) : rng.int(1, rng.pick([8, 64, 4096]));
      const offset = sectors ? 512 * rng.int(0, Math.floor(size / 512)) : rng.int(0, size - 1);
      plan.push({ kind, file, offset, length });
    } else {
      plan.push({ kind, file, length: rng.int(0, size - 1) });
    }
  }
  return plan;
}

/** The files after `plan` (copies: `files` is left as it was). */
export function applyDamage(files: LogFiles, plan: readonly Damage[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, bytes] of files) out.set(name, Buffer.from(bytes));
  for (const d of plan) {
    const bytes = out.get(d.file);
    if (bytes === undefined) continue;
    if (d.kind === 'remove') out.delete(d.file);
    else if (d.kind === 'truncate')
      out.set(d.file, bytes.subarray(0, Math.min(d.length, bytes.length)));
    else if (d.kind === 'flip') {
      if (d.offset < bytes.length) bytes[d.offset] = bytes[d.offset]! ^ (1 << d.bit);
    } else
      bytes.fill(0, Math.min(d.offset, bytes.length), Math.min(d.offset + d.length, bytes.length));
  }
  return out;
}

export function describeDamage(plan: readonly Damage[]): string {
  return plan
    .map((d) => {
      if (d.kind === 'flip') return `flip bit ${d.bit} at ${d.file}:${d.offset}`;
      if (d.kind === 'zero') return `zero ${d.length} B at ${d.file}:${d.offset}`;
      if (d.kind === 'truncate') return `truncate ${d.file} to ${d.length} B`;
      return `remove ${d.file}`;
    })
    .join(' + ');
}
