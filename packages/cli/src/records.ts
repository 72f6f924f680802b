import type { WalRecord } from '@walnut/codec';
import { UsageError } from './errors.js';
import { previewBytes } from './format.js';
import { toJson } from './json.js';

/** One record as a line of text: LSN, type, sizes, routing fields and a payload preview. */
export function recordLine(record: WalRecord): string {
  const parts = [`LSN ${record.lsn}`, `type ${record.type}`, `${record.payload.length} B`];
  if (record.time !== undefined) parts.push(new Date(record.time).toISOString());
  if (record.tenantId !== undefined) parts.push(`tenant ${record.tenantId}`);
  if (record.vshardId !== undefined) parts.push(`vshard ${record.vshardId}`);
  if (record.databaseId !== undefined) parts.push(`database ${record.databaseId}`);
  if (record.meta !== undefined) parts.push(`meta ${previewBytes(record.meta, 16)}`);
  parts.push(previewBytes(record.payload));
  return parts.join('  ');
}

/** One record as a JSON line; payload and meta in base64, plus `text` when it is UTF-8. */
export function recordJson(record: WalRecord): string {
  const text = record.payload.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(record.payload);
  return toJson({
    lsn: record.lsn,
    type: record.type,
    size: record.payload.length,
    ...(record.time !== undefined ? { time: record.time } : {}),
    payload: record.payload.toString('base64'),
    ...(isText ? { text } : {}),
    ...(record.meta !== undefined ? { meta: record.meta.toString('base64') } : {}),
    ...(record.tenantId !== undefined ? { tenantId: record.tenantId } : {}),
    ...(record.vshardId !== undefined ? { vshardId: record.vshardId } : {}),
    ...(record.databaseId !== undefined ? { databaseId: record.databaseId } : {}),
  });
}

/** Parses an LSN option (a positive decimal integer). */
export function parseLsn(value: string, option: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) < 1n || BigInt(value) > (1n << 64n) - 1n) {
    throw new UsageError(
      `${option} must be an LSN (a whole number from 1), got ${JSON.stringify(value)}`,
    );
  }
  return BigInt(value);
}

/** Parses a time option: ms since the epoch, or a date and time `Date.parse` reads (ISO 8601). */
export function parseTime(value: string, option: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new UsageError(
      `${option} must be a time: ms since the epoch or an ISO 8601 date such as 2026-11-24T10:00Z, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** Parses a count option (a whole number ≥ 0, or ≥ 1 when `min` says so). */
export function parseCount(value: string, option: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${option} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}
