import { badRequest } from './errors.js';

/**
 * Offset tokens: `0000000000000000_` and the 16-digit record offset, so they sort as the
 * offsets do and keep the shape the reference server's tokens have (the conformance suite
 * writes `0000000000000000_0000000000000000` itself for a stream's start). The first
 * field is 0 in every token this server gives out.
 */
const TOKEN = /^0{16}_([0-9]{16})$/;
const ZERO = '0'.repeat(16);

export function formatToken(offset: number): string {
  return `${ZERO}_${String(offset).padStart(16, '0')}`;
}

/** The record offset of a token this server gave out, or 400. */
export function parseToken(name: string, raw: string): number {
  const match = TOKEN.exec(raw);
  const offset = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(offset)) {
    throw badRequest(`${name} "${raw}" is not an offset this server gave out`);
  }
  return offset;
}
