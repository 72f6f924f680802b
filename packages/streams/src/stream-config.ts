import { WalError, WalErrorCode } from '@walnut/wal';
import type { StreamConfig } from './frame.js';

/** A stream's configuration as the log keeps it: checked, with only the keys that were given. */
export function checkConfig(config: StreamConfig): StreamConfig {
  if (typeof config !== 'object' || config === null) bad('config', 'an object', config);
  const known = new Set(['contentType', 'ttlMs', 'expiresAt', 'metadata']);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) bad(`config.${key}`, `one of ${[...known].join(', ')}`, key);
  }
  const out: { -readonly [K in keyof StreamConfig]: StreamConfig[K] } = {};
  if (config.contentType !== undefined) {
    if (typeof config.contentType !== 'string') {
      bad('contentType', 'a string', config.contentType);
    }
    out.contentType = config.contentType;
  }
  if (config.ttlMs !== undefined && config.expiresAt !== undefined) {
    bad('config', 'given ttlMs or expiresAt, not both', 'both');
  }
  for (const key of ['ttlMs', 'expiresAt'] as const) {
    const value = config[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) bad(key, 'a positive integer (ms)', value);
    out[key] = value;
  }
  if (config.metadata !== undefined) {
    const entries = Object.entries(config.metadata ?? {});
    if (typeof config.metadata !== 'object' || config.metadata === null) {
      bad('metadata', 'an object of strings', config.metadata);
    }
    for (const [key, value] of entries) {
      if (typeof value !== 'string') bad(`metadata.${key}`, 'a string', value);
    }
    out.metadata = Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return out;
}

/** Whether two checked configurations are the same (what makes a repeated create a no-op). */
export function sameConfig(a: StreamConfig, b: StreamConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function bad(name: string, expected: string, got: unknown): never {
  throw new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${name} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`,
  );
}
