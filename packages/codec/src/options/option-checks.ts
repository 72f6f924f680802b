import { fileURLToPath } from 'node:url';
import { badArgument, describeValue, invalidArgument } from '../errors/errors.js';
import { KeyRing } from '../format/crypto.js';

/**
 * Checks one option's value under the name the user wrote (`config.segmentTargetSize`,
 * `segmentSize`): returns it, or throws WAL_BAD_ARGUMENT saying what it must be. The one
 * validator style of every layer's options (segmented's config, the Wal's options).
 */
export type OptionCheck<T> = (value: unknown, name: string) => T;

/** One option, declared once: its default (undefined: none) and its check. */
export interface OptionSpec<T> {
  readonly default: T;
  readonly check: OptionCheck<NonNullable<T>>;
}

/** An integer in min..max; `unit` follows the range in the message (" (bytes)"). */
export function integerOption(min: number, max: number, unit = ''): OptionCheck<number> {
  return (value, name) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
      badArgument(name, `an integer from ${min} to ${max}${unit}`, value);
    return value;
  };
}

/** One of the strings `choices`. */
export function oneOfOption<T extends string>(...choices: T[]): OptionCheck<T> {
  return (value, name) => {
    if (!choices.includes(value as T))
      badArgument(name, choices.map((choice) => `'${choice}'`).join(', '), value);
    return value as T;
  };
}

export const flagOption: OptionCheck<boolean> = (value, name) => {
  if (typeof value !== 'boolean') badArgument(name, 'true or false', value);
  return value;
};

export const keyRingOption: OptionCheck<KeyRing> = (value, name) => {
  if (!(value instanceof KeyRing))
    badArgument(name, 'a KeyRing (from @walnut/codec, or @walnut/wal)', value);
  return value;
};

/**
 * A function returning ms since the epoch, called once here: a clock that returns something
 * else (a string, a bigint, NaN, a negative time) or throws would otherwise stamp every record
 * with the last good time, 0 in a new log, without a word.
 */
export const clockOption: OptionCheck<() => number> = (value, name) => {
  const expected = 'a function returning ms since the epoch (as Date.now does)';
  if (typeof value !== 'function') badArgument(name, expected, value);
  let now: unknown;
  try {
    now = value();
  } catch (error) {
    invalidArgument(
      `${name} threw when called (${error instanceof Error ? error.message : String(error)}); it must be ${expected}`,
    );
  }
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0 || now > Number.MAX_SAFE_INTEGER)
    invalidArgument(`${name} must be ${expected}; it returned ${describeValue(now)}`);
  return value as () => number;
};

/**
 * A file system path as `node:fs` takes one: a non-empty string without NUL bytes, or a
 * `file:` URL (`new URL('./log/', import.meta.url)`), returned as the path it names.
 */
export const pathOption: OptionCheck<string> = (value, name) => {
  const expected = 'a non-empty path string or a file: URL';
  let path = value;
  if (value instanceof URL) {
    if (value.protocol !== 'file:') badArgument(name, expected, value.href);
    try {
      path = fileURLToPath(value);
    } catch (error) {
      invalidArgument(
        `${name} is a file: URL that names no local path (${(error as Error).message}); pass a path string or a file: URL without a host`,
      );
    }
  }
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0'))
    badArgument(name, expected, value);
  return path;
};
