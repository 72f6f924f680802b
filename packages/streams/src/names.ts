import { StreamErrorCode, streamError } from './errors.js';

/** Longest stream name and producer id, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;

/**
 * A stream name or producer id: 1 to 1024 UTF-8 bytes, no control characters. Names are
 * kept inside the log's records only, never used as file paths, so `/`, `..` and the like
 * are ordinary characters.
 */
export function checkName(what: 'stream name' | 'producerId', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw bad(what, name, 'a non-empty string');
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw bad(what, name, `at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  }
  // A lone surrogate does not survive UTF-8: the name read back would be another.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(name) || Buffer.from(name).toString() !== name) {
    throw bad(what, name, 'free of control characters and lone surrogates');
  }
  return name;
}

function bad(what: string, name: unknown, expected: string) {
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : String(name);
  return streamError(StreamErrorCode.BAD_NAME, `${what} must be ${expected}, got ${shown}`);
}
