import { badRequest } from './errors.js';

/** A header's single value (Node joins repeated ones with ", "). */
export function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `Stream-Closed` counts only when exactly "true", any case (PROTOCOL.md 4.1). */
export function closedHeader(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** A non-negative decimal integer without sign, leading zeros, point or exponent. */
export function strictInteger(name: string, value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isSafeInteger(n)) {
    throw badRequest(`${name} must be a non-negative integer (at most 2^53-1), got "${value}"`);
  }
  return n;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an RFC 3339 timestamp. */
export function rfc3339(name: string, value: string): number {
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw badRequest(`${name} must be an RFC 3339 timestamp, got "${value}"`);
  }
  return ms;
}

/** A Content-Type as a stream keeps it: lower case, parameters joined by "; ". */
export function normalType(value: string): string {
  return value
    .split(';')
    .map((part) => part.trim().toLowerCase())
    .filter((part) => part !== '')
    .join('; ');
}

/** The media type of a Content-Type, lower-cased, without parameters. */
export function mediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === '' ? undefined : type;
}

export const isJson = (type: string | undefined) => type === 'application/json';

/** Types whose SSE data events carry text; any other is base64 (PROTOCOL.md 5.8). */
export const isText = (type: string | undefined) =>
  type !== undefined && (type.startsWith('text/') || type === 'application/json');
