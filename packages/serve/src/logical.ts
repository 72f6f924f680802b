import { fromStreamError } from './errors.js';
import type { Registry, View } from './registry.js';

export interface Chunk {
  readonly payloads: Buffer[];
  /** The logical offset to read from next. */
  readonly next: number;
}

/**
 * The records of `view` from logical offset `from` up to `end` (exclusive), at most about
 * `maxBytes` of them (always one if there is one). A fork's offsets below its base are its
 * source's, read from the source (and its source, down a chain of forks).
 */
export async function readLogical(
  registry: Registry,
  view: View,
  from: number,
  end: number,
  maxBytes: number,
): Promise<Chunk> {
  const payloads: Buffer[] = [];
  let bytes = 0;
  let next = from;
  if (next < view.base && view.source !== undefined) {
    const source = registry.view(view.source);
    if (source === undefined) throw new Error(`the source of fork ${view.name} is missing`);
    const inherited = await readLogical(registry, source, next, Math.min(end, view.base), maxBytes);
    payloads.push(...inherited.payloads);
    for (const p of inherited.payloads) bytes += p.length;
    next = inherited.next;
    if (next < Math.min(end, view.base)) return { payloads, next };
  }
  while (next < end && (payloads.length === 0 || bytes < maxBytes)) {
    let read: Awaited<ReturnType<typeof registry.streams.read>>;
    try {
      read = await registry.streams.read(view.name, next - view.base, {
        maxBytes: Math.max(1, maxBytes - bytes),
        maxRecords: Math.min(1000, end - next),
      });
    } catch (error) {
      throw fromStreamError(error, view.name);
    }
    if (read.records.length === 0) break;
    for (const record of read.records) {
      if (payloads.length > 0 && bytes + record.payload.length > maxBytes)
        return { payloads, next };
      payloads.push(record.payload);
      bytes += record.payload.length;
      next++;
    }
  }
  return { payloads, next };
}
