import type { Writable } from 'node:stream';

/** JSON with bigints (LSNs) as decimal strings, so no precision is lost. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), indent);
}

export function printJson(stream: Writable, value: unknown): void {
  stream.write(`${toJson(value, 2)}\n`);
}
